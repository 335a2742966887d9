import Crypto
import Foundation
import Testing

@testable import FleetProtocol

/// Topics.md is the contract other implementations are written from: its worked examples must be real.
@Suite struct TopicsDocumentTests {
    let topics: String
    let fixture: EnvelopeFixture

    init() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Topics.md")
        topics = try String(contentsOf: url, encoding: .utf8)
        fixture = try JSONDecoder().decode(EnvelopeFixture.self, from: TestSupport.fixture("envelopes.json"))
    }

    /// Topics.md with whitespace removed, so hex wrapped over lines still matches.
    var compact: String { topics.filter { !$0.isWhitespace } }

    @Test func workedExampleMatchesTheFixture() throws {
        let c = try #require(fixture.cases.first { $0.name == "wifi_ok" })
        let e = try MessageCodec.decode(Envelope.self, from: Array(c.envelope.utf8))
        #expect(topics.contains(c.envelope))
        for value in [
            c.info_hex, c.aad_hex, Hex.encode(e.enc.bytes), Hex.encode(e.ct.bytes), c.receiver_private_hex,
            c.service_public_hex, try #require(c.shared_secret_hex), try #require(c.key_hex),
            try #require(c.base_nonce_hex),
            try #require(fixture.keys["service"]).private_hex, try #require(fixture.keys["device_a"]).public_hex,
        ] {
            #expect(compact.contains(value), "Topics.md lacks \(value.prefix(16))…")
        }
    }

    @Test func bootstrapURIExampleParses() throws {
        let line = try #require(topics.split(separator: "\n").first { $0.hasPrefix("FB1:I:omega-a1b2;") })
        let uri = try BootstrapURI(parsing: String(line))
        #expect(uri.model == "omega2p" && uri.mac == "40a36bc12345")
        #expect(uri.fingerprint == fixture.keys["device_a"]?.fingerprint)
    }

    @Test func brokerPasswordExampleIsRight() throws {
        let service = try Curve25519.KeyAgreement.PrivateKey(
            rawRepresentation: TestSupport.hex(try #require(fixture.keys["service"]).private_hex))
        let device = try Curve25519.KeyAgreement.PrivateKey(
            rawRepresentation: TestSupport.hex(try #require(fixture.keys["device_a"]).private_hex))
        let password = try BrokerCredentials.password(
            device: TestSupport.id("omega-a1b2"), devicePrivateKey: device, servicePublicKey: service.publicKey)
        #expect(topics.contains("`\(password)`"))
    }

    @Test func contextExampleIsRight() {
        let ctx = Hex.encode(EnvelopeCrypto.context(kind: .wifi, seq: 12, device: TestSupport.id("omega-a1b2")))
        #expect(compact.contains("ctx=\(ctx)"))
    }
}
