import Crypto
import FleetProtocol
import Foundation
import Logging

/// Decoding of device messages for the service shell: every rejection is logged, none crashes.
enum WireDecoding {
    struct ValidHello {
        var device: String
        var publicKey: Data
    }

    struct ValidStatus {
        var device: String
        var state: String
        var seq: Int64
        var reason: String?
        var detail: String?
    }

    /// A hello that passed the size limit, schema validation, and whose `device` equals the topic's id.
    static func hello(_ payload: [UInt8], topicDevice: DeviceID, logger: Logger) -> ValidHello? {
        do {
            let hello = try MessageCodec.decode(Hello.self, from: payload)
            guard hello.device == topicDevice else {
                logger.warning(
                    "hello rejected: device field differs from topic", metadata: ["device": "\(topicDevice)"])
                return nil
            }
            let key = try hello.publicKey()
            return ValidHello(device: hello.device.rawValue, publicKey: key.rawRepresentation)
        } catch {
            logger.warning(
                "hello rejected",
                metadata: ["device": "\(topicDevice)", "bytes": "\(payload.count)", "error": "\(error)"])
            return nil
        }
    }

    /// A status that passed validation and whose `device` equals the topic's id. Empty payloads
    /// (a cleared retained status) are ignored silently.
    static func status(_ payload: [UInt8], topicDevice: DeviceID, logger: Logger) -> ValidStatus? {
        guard !payload.isEmpty else { return nil }
        do {
            let status = try MessageCodec.decode(DeviceStatus.self, from: payload)
            guard status.device == topicDevice else {
                logger.warning(
                    "status rejected: device field differs from topic", metadata: ["device": "\(topicDevice)"])
                return nil
            }
            return ValidStatus(
                device: status.device.rawValue, state: status.state.rawValue, seq: Int64(status.seq),
                reason: status.reason?.rawValue, detail: status.detail)
        } catch {
            logger.warning("status rejected", metadata: ["device": "\(topicDevice)", "error": "\(error)"])
            return nil
        }
    }
}
