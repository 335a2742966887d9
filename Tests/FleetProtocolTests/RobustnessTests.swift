import Crypto
import Foundation
import Testing

@testable import FleetProtocol

/// Hostile input must produce an error, never a crash or a hang.
@Suite struct RobustnessTests {
    /// A small deterministic generator (SplitMix64), so failures reproduce.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test(arguments: AnyDecoder.allCases)
    func deeplyNestedJSONIsRejectedWithoutCrashing(_ d: AnyDecoder) {
        let depth = min(d.maxBytes / 2 - 20, 100_000)
        let nested =
            #"{"v":1,"args":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
        #expect(d.error(nested) != nil)
    }

    @Test(arguments: AnyDecoder.allCases)
    func mutatedPayloadsNeverCrash(_ d: AnyDecoder) {
        var rng = SplitMix(state: 0xF1EE7 &+ UInt64(d.rawValue.utf8.count))
        let sample = Array(d.sample.utf8)
        let interesting: [UInt8] = Array(#"{}[]",:0-9eE.+#/\"#.utf8) + [0, 0xFF, 0xC3, 0x20]
        var codes: Set<ProtocolError.Code> = []
        for _ in 0..<1500 {
            var bytes = sample
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                guard !bytes.isEmpty else { break }
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[i] = interesting.randomElement(using: &rng)!
                case 1: bytes.remove(at: i)
                case 2: bytes.insert(interesting.randomElement(using: &rng)!, at: i)
                default: bytes = Array(bytes.prefix(i))
                }
            }
            // Accepted (some mutations land in free text): what was accepted encodes to a payload that
            // is accepted again and is stable from then on. Rejected: a ProtocolError, nothing else.
            do {
                let once = try d.reencode(bytes)
                let twice = try d.reencode(once)
                #expect(once == twice, "\(String(decoding: bytes, as: UTF8.self))")
            } catch let e as ProtocolError {
                codes.insert(e.code)
            } catch {
                Issue.record("\(d): \(type(of: error)) instead of ProtocolError: \(error)")
            }
        }
        // The mutations must reach past the JSON syntax check into the field rules, or this fuzzes
        // only Foundation's parser.
        #expect(codes.contains(.malformedJSON), "\(codes)")
        #expect(!codes.subtracting([.malformedJSON, .tooLarge]).isEmpty, "only syntax errors seen: \(codes)")
    }

    @Test func randomEnvelopeMutationsNeverOpen() throws {
        let service = Curve25519.KeyAgreement.PrivateKey()
        let device = Curve25519.KeyAgreement.PrivateKey()
        let id = try DeviceID("omega-a1b2")
        let e = try EnvelopeCrypto.seal(
            plaintext: Array("secret".utf8), kind: .wifi, seq: 3, device: id, devicePublicKey: device.publicKey,
            servicePrivateKey: service)
        var rng = SplitMix(state: 42)
        for _ in 0..<300 {
            var m = e
            if Bool.random(using: &rng) {
                m.ct.bytes[Int.random(in: 0..<m.ct.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            } else {
                m.enc.bytes[Int.random(in: 0..<32, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            }
            #expect(throws: EnvelopeError.self) {
                try EnvelopeCrypto.open(m, device: id, devicePrivateKey: device, servicePublicKey: service.publicKey)
            }
        }
    }
}
