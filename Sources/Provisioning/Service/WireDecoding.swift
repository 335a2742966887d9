import Crypto
import FleetProtocol
import Foundation
import Logging

/// Decoding of device messages for the service shell: every rejection is logged, none crashes.
enum WireDecoding {
    /// A hello that passed the size limit and schema validation, and whose `device` equals the
    /// topic's id, with its 32-byte public key.
    static func hello(_ payload: [UInt8], topicDevice: DeviceID, logger: Logger) -> (device: DeviceID, publicKey: Data)?
    {
        do {
            let hello = try MessageCodec.decode(Hello.self, from: payload)
            guard hello.device == topicDevice else {
                logger.warning(
                    "hello rejected: device field differs from topic", metadata: ["device": "\(topicDevice)"])
                return nil
            }
            return (hello.device, try hello.publicKey().rawRepresentation)
        } catch {
            logger.warning(
                "hello rejected",
                metadata: ["device": "\(topicDevice)", "bytes": "\(payload.count)", "error": "\(error)"])
            return nil
        }
    }

    /// A status that passed validation and whose `device` equals the topic's id. Empty payloads
    /// (a cleared retained status) are ignored silently.
    static func status(_ payload: [UInt8], topicDevice: DeviceID, logger: Logger) -> DeviceStatus? {
        guard !payload.isEmpty else { return nil }
        do {
            let status = try MessageCodec.decode(DeviceStatus.self, from: payload)
            guard status.device == topicDevice else {
                logger.warning(
                    "status rejected: device field differs from topic", metadata: ["device": "\(topicDevice)"])
                return nil
            }
            return status
        } catch {
            logger.warning("status rejected", metadata: ["device": "\(topicDevice)", "error": "\(error)"])
            return nil
        }
    }
}
