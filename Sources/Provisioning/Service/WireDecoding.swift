import Crypto
import FleetProtocol
import Foundation
import Logging

/// Decoding of device messages into engine events for the service shell: every rejection is logged,
/// none crashes.
enum WireDecoding {
    /// A hello that passed the size limit and schema validation, and whose `device` equals the
    /// topic's id, with its 32-byte public key.
    static func hello(_ payload: [UInt8], topicDevice: DeviceID, logger: Logger) -> EngineEvent? {
        guard let hello = decode(Hello.self, payload, about: \.device, topicDevice: topicDevice, logger: logger)
        else { return nil }
        do {
            return .hello(device: hello.device, publicKey: try hello.publicKey().rawRepresentation)
        } catch {
            logger.warning("hello rejected", metadata: ["device": "\(topicDevice)", "error": "\(error)"])
            return nil
        }
    }

    /// A status that passed validation and whose `device` equals the topic's id. Empty payloads
    /// (a cleared retained status) are ignored silently.
    static func status(_ payload: [UInt8], topicDevice: DeviceID, retained: Bool, logger: Logger) -> EngineEvent? {
        guard !payload.isEmpty else { return nil }
        return decode(DeviceStatus.self, payload, about: \.device, topicDevice: topicDevice, logger: logger)
            .map(retained ? EngineEvent.retainedStatus : EngineEvent.status)
    }

    /// `payload` as an `M` about the device of its topic, or nil (logged).
    private static func decode<M: FleetMessage>(
        _ type: M.Type, _ payload: [UInt8], about device: KeyPath<M, DeviceID>, topicDevice: DeviceID,
        logger: Logger
    ) -> M? {
        do {
            let message = try MessageCodec.decode(M.self, from: payload)
            guard message[keyPath: device] == topicDevice else {
                logger.warning(
                    "\(M.messageName) rejected: device field differs from topic", metadata: ["device": "\(topicDevice)"]
                )
                return nil
            }
            return message
        } catch {
            logger.warning(
                "\(M.messageName) rejected",
                metadata: ["device": "\(topicDevice)", "bytes": "\(payload.count)", "error": "\(error)"])
            return nil
        }
    }
}
