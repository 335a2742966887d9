import Crypto
import Foundation
import Testing

@testable import FleetProtocol

/// Test helpers shared by the suites.
enum TestSupport {
    /// Directory of this source file's Fixtures (used only to regenerate fixtures).
    static var sourceFixturesDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    /// Reads a fixture from the test bundle.
    static func fixture(_ name: String) throws -> Data {
        let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return try Data(contentsOf: dir.appendingPathComponent(name))
    }

    static func hex(_ s: String) throws -> [UInt8] {
        try #require(Hex.decode(s), "bad hex in fixture: \(s.prefix(20))")
    }

    static func id(_ s: String) -> DeviceID {
        // Test ids are literals known to be valid.
        do { return try DeviceID(s) } catch { preconditionFailure("invalid test id \(s)") }
    }

    /// Decodes and returns the ProtocolError, or nil when decoding succeeded.
    static func decodeError<T: FleetMessage>(_ type: T.Type, _ json: String) -> ProtocolError? {
        do {
            _ = try MessageCodec.decode(type, from: Array(json.utf8))
            return nil
        } catch {
            return error
        }
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fleetproto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
