import Crypto
import Foundation
import Testing

@testable import FleetProtocol

/// The shared envelope vectors in Fixtures/envelopes.json, read by these tests and by the C agent's.
///
/// Sealing is randomized, so the file is generated once and committed. Regenerate with
/// `FLEET_REGENERATE_FIXTURES=1 swift test --filter EnvelopeFixtureTests` (then review and commit).
// The field names are the fixture file's JSON names (read by the C tests too), kept identical.
struct EnvelopeFixture: Codable {
    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct Key: Codable {
        var device_id: String?
        var private_hex: String
        var public_hex: String
        var public_b64url: String
        var fingerprint: String
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct Case: Codable {
        var name: String
        var description: String
        /// What was sealed: recipient device, kind, seq, plaintext, and the info/AAD bytes used.
        var device: String
        var kind: String
        var seq: UInt64
        var plaintext: String
        var info_hex: String
        var aad_hex: String
        /// The exact config payload (possibly altered after sealing).
        var envelope: String
        /// Who opens it: its own device id (also the topic's {id}) and the keys it holds.
        var receiver_device: String
        var receiver_device_key: String
        var receiver_service_key: String
        var receiver_private_hex: String
        var service_public_hex: String
        /// "ok" (then `plaintext` comes out) or "error" (then `error` is the status reason code).
        var expected: String
        var error: String?
        /// The Swift library's precise check (EnvelopeError.check), informational.
        var check: String?
        /// For "ok" cases: HPKE intermediate values (RFC 9180 names), to debug another implementation.
        var shared_secret_hex: String?
        var key_hex: String?
        var base_nonce_hex: String?
    }

    var description: String
    var format: String
    var suite: [String: Int]
    var keys: [String: Key]
    var cases: [Case]
}

@Suite struct EnvelopeFixtureTests {
    static let fileName = "envelopes.json"

    @Test func everyFixtureCaseOpensOrFailsAsExpected() throws {
        if ProcessInfo.processInfo.environment["FLEET_REGENERATE_FIXTURES"] == "1" {
            let data = try EnvelopeFixtureGenerator.generate()
            try data.write(to: TestSupport.sourceFixturesDirectory.appendingPathComponent(Self.fileName))
            try Self.check(JSONDecoder().decode(EnvelopeFixture.self, from: data))
            return
        }
        try Self.check(JSONDecoder().decode(EnvelopeFixture.self, from: TestSupport.fixture(Self.fileName)))
    }

    static func check(_ f: EnvelopeFixture) throws {
        #expect(f.cases.count >= 20)
        #expect(Set(f.cases.map(\.expected)) == ["ok", "error"])
        for c in f.cases {
            let device = try DeviceID(c.device)
            let kind = try #require(PayloadKind(rawValue: c.kind))
            #expect(Hex.encode(EnvelopeCrypto.info(kind: kind, seq: c.seq, device: device)) == c.info_hex, "\(c.name)")
            #expect(Hex.encode(EnvelopeCrypto.aad(kind: kind, seq: c.seq, device: device)) == c.aad_hex, "\(c.name)")
            let deviceKey = try #require(f.keys[c.receiver_device_key])
            let serviceKey = try #require(f.keys[c.receiver_service_key])
            #expect(deviceKey.private_hex == c.receiver_private_hex && serviceKey.public_hex == c.service_public_hex)
            let priv = try Curve25519.KeyAgreement.PrivateKey(
                rawRepresentation: TestSupport.hex(c.receiver_private_hex))
            let pub = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: TestSupport.hex(c.service_public_hex))
            let receiver = try DeviceID(c.receiver_device)
            do {
                let opened = try EnvelopeCrypto.open(
                    payload: Array(c.envelope.utf8), device: receiver, topicDevice: receiver, devicePrivateKey: priv,
                    servicePublicKey: pub)
                #expect(c.expected == "ok", "\(c.name) opened but expected \(c.error ?? "?")")
                #expect(String(decoding: opened.plaintext, as: UTF8.self) == c.plaintext, "\(c.name)")
                // Independently of swift-crypto's HPKE: the RFC key schedule plus ChaCha20-Poly1305.
                let e = opened.envelope
                let ks = try ReferenceHPKE.authKeySchedule(
                    recipientPrivateKey: priv, enc: e.enc.bytes, senderPublicKey: Array(pub.rawRepresentation),
                    info: EnvelopeCrypto.info(kind: e.kind, seq: e.seq, device: receiver))
                #expect(Hex.encode(ks.sharedSecret) == c.shared_secret_hex, "\(c.name)")
                #expect(Hex.encode(ks.key) == c.key_hex && Hex.encode(ks.baseNonce) == c.base_nonce_hex, "\(c.name)")
                let box = try ChaChaPoly.SealedBox(
                    nonce: ChaChaPoly.Nonce(data: ks.baseNonce), ciphertext: e.ct.bytes.dropLast(16),
                    tag: e.ct.bytes.suffix(16))
                let pt = try ChaChaPoly.open(
                    box, using: SymmetricKey(data: ks.key),
                    authenticating: EnvelopeCrypto.aad(kind: e.kind, seq: e.seq, device: receiver))
                #expect(Array(pt) == opened.plaintext, "\(c.name)")
            } catch let error as EnvelopeError {
                #expect(c.expected == "error", "\(c.name): \(error)")
                #expect(error.reason.rawValue == c.error, "\(c.name): \(error)")
                #expect(error.check == c.check, "\(c.name): \(error)")
            }
        }
    }

    @Test func keysInTheFixtureAreConsistent() throws {
        let f = try JSONDecoder().decode(EnvelopeFixture.self, from: TestSupport.fixture(Self.fileName))
        for (name, k) in f.keys {
            let priv = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: TestSupport.hex(k.private_hex))
            #expect(Hex.encode(priv.publicKey.rawRepresentation) == k.public_hex, "\(name)")
            #expect(Base64URL.encode(priv.publicKey.rawRepresentation) == k.public_b64url, "\(name)")
            #expect(Fingerprint.of(priv.publicKey) == k.fingerprint, "\(name)")
        }
    }
}

/// Writes a fresh fixture. Keys are derived from fixed seeds so they stay the same across regenerations;
/// the HPKE ephemeral keys are random (swift-crypto draws them itself).
enum EnvelopeFixtureGenerator {
    static func key(seed: String) throws -> Curve25519.KeyAgreement.PrivateKey {
        try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: Array(SHA256.hash(data: Array(seed.utf8))))
    }

    static func generate() throws -> Data {
        let service = try key(seed: "fleetbootstrap fixture service")
        let other = try key(seed: "fleetbootstrap fixture other service")
        let devA = try key(seed: "fleetbootstrap fixture device a")
        let devB = try key(seed: "fleetbootstrap fixture device b")
        let idA = try DeviceID("omega-a1b2")
        let idB = try DeviceID("omega-c3d4")
        let keys: [String: Curve25519.KeyAgreement.PrivateKey] = [
            "service": service, "other_service": other, "device_a": devA, "device_b": devB,
        ]
        let deviceIDs = ["device_a": idA.rawValue, "device_b": idB.rawValue]
        var fixtureKeys: [String: EnvelopeFixture.Key] = [:]
        for (name, k) in keys {
            fixtureKeys[name] = EnvelopeFixture.Key(
                device_id: deviceIDs[name], private_hex: Hex.encode(k.rawRepresentation),
                public_hex: Hex.encode(k.publicKey.rawRepresentation),
                public_b64url: Base64URL.encode(k.publicKey.rawRepresentation), fingerprint: Fingerprint.of(k.publicKey)
            )
        }

        let wifiA = #"{"encryption":"psk2","hidden":false,"key":"correct horse battery","ssid":"Premises"}"#
        let wifiB = #"{"encryption":"owe","ssid":"Café 📶"}"#
        let reset = #"{"reason":"revoked"}"#

        struct Sealed {
            var envelope: Envelope
            var device: DeviceID
            var plaintext: String
        }
        func seal(
            _ pt: String, _ kind: PayloadKind, _ seq: UInt64, _ id: DeviceID, _ dev: Curve25519.KeyAgreement.PrivateKey,
            by svc: Curve25519.KeyAgreement.PrivateKey = service
        ) throws -> Sealed {
            Sealed(
                envelope: try EnvelopeCrypto.seal(
                    plaintext: Array(pt.utf8), kind: kind, seq: seq, device: id, devicePublicKey: dev.publicKey,
                    servicePrivateKey: svc), device: id, plaintext: pt)
        }
        func json(_ e: Envelope) throws -> String { String(decoding: try MessageCodec.jsonEncode(e), as: UTF8.self) }

        var cases: [EnvelopeFixture.Case] = []
        func add(
            _ name: String, _ description: String, _ s: Sealed, payload: String? = nil, receiver: DeviceID,
            deviceKey: String, serviceKey: String = "service", error: String? = nil, check: String? = nil
        ) throws {
            let e = s.envelope
            var ks: ReferenceHPKE.KeySchedule?
            if error == nil {
                ks = try ReferenceHPKE.authKeySchedule(
                    recipientPrivateKey: keys[deviceKey]!, enc: e.enc.bytes,
                    senderPublicKey: Array(keys[serviceKey]!.publicKey.rawRepresentation),
                    info: EnvelopeCrypto.info(kind: e.kind, seq: e.seq, device: s.device))
            }
            cases.append(
                EnvelopeFixture.Case(
                    name: name, description: description, device: s.device.rawValue, kind: e.kind.rawValue, seq: e.seq,
                    plaintext: s.plaintext,
                    info_hex: Hex.encode(EnvelopeCrypto.info(kind: e.kind, seq: e.seq, device: s.device)),
                    aad_hex: Hex.encode(EnvelopeCrypto.aad(kind: e.kind, seq: e.seq, device: s.device)),
                    envelope: try payload ?? json(e), receiver_device: receiver.rawValue,
                    receiver_device_key: deviceKey,
                    receiver_service_key: serviceKey,
                    receiver_private_hex: Hex.encode(keys[deviceKey]!.rawRepresentation),
                    service_public_hex: Hex.encode(keys[serviceKey]!.publicKey.rawRepresentation),
                    expected: error == nil ? "ok" : "error", error: error, check: check,
                    shared_secret_hex: ks.map { Hex.encode($0.sharedSecret) }, key_hex: ks.map { Hex.encode($0.key) },
                    base_nonce_hex: ks.map { Hex.encode($0.baseNonce) }))
        }

        let a12 = try seal(wifiA, .wifi, 12, idA, devA)
        try add(
            "wifi_ok", "Wi-Fi profile for device A, seq 12 (the worked example of Topics.md)", a12, receiver: idA,
            deviceKey: "device_a")
        let aReset = try seal(reset, .reset, 13, idA, devA)
        try add("reset_ok", "reset command for device A, seq 13", aReset, receiver: idA, deviceKey: "device_a")
        let b1 = try seal(wifiB, .wifi, 1, idB, devB)
        try add(
            "wifi_device_b_ok", "OWE profile with a UTF-8 SSID for device B, seq 1", b1, receiver: idB,
            deviceKey: "device_b")
        let bigSeq = try seal(wifiA, .wifi, maxJSONSafeInteger, idA, devA)
        try add("max_seq_ok", "largest seq, 2^53-1", bigSeq, receiver: idA, deviceKey: "device_a")

        // Same envelope, fields in another order plus unknown fields: receivers ignore both.
        let e = a12.envelope
        let reordered =
            #"{"ct":"\#(e.ct)","note":"unknown fields are ignored","enc":"\#(e.enc)","kid":"\#(e.kid)","aead":3,"kdf":1,"kem":32,"seq":12,"device":"omega-a1b2","kind":"wifi","v":1,"extra":{"nested":[1,2]}}"#
        try add(
            "unknown_fields_ok", "wifi_ok reordered with unknown fields", a12, payload: reordered, receiver: idA,
            deviceKey: "device_a")

        let b5 = try seal(wifiA, .wifi, 5, idB, devB)
        try add(
            "wrong_device", "sealed for device B, delivered to device A (device field names B)", b5,
            receiver: idA, deviceKey: "device_a", error: "wrong_device", check: "wrong_device")
        var moved = b5.envelope
        moved.device = idA
        try add(
            "moved_to_other_device", "sealed for device B, device field rewritten to A", b5, payload: json(moved),
            receiver: idA, deviceKey: "device_a", error: "bad_envelope", check: "open_failed")
        try add(
            "wrong_device_key", "for device A, opened with device B's private key under A's id", a12,
            receiver: idA, deviceKey: "device_b", error: "bad_envelope", check: "open_failed")

        var m = e
        m.seq = 13
        try add(
            "seq_changed", "seq field changed from 12 to 13", a12, payload: json(m), receiver: idA,
            deviceKey: "device_a",
            error: "bad_envelope", check: "open_failed")
        m = e
        m.kind = .reset
        try add(
            "kind_changed", "kind field changed from wifi to reset", a12, payload: json(m), receiver: idA,
            deviceKey: "device_a", error: "bad_envelope", check: "open_failed")
        m = e
        m.ct.bytes[m.ct.bytes.count - 1] ^= 0x01
        try add(
            "tampered_tag", "last byte of the tag flipped", a12, payload: json(m), receiver: idA, deviceKey: "device_a",
            error: "bad_envelope", check: "open_failed")
        m = e
        m.ct.bytes[0] ^= 0x80
        try add(
            "tampered_ct", "first ciphertext byte flipped", a12, payload: json(m), receiver: idA, deviceKey: "device_a",
            error: "bad_envelope", check: "open_failed")
        m = e
        m.enc.bytes[5] ^= 0x10
        try add(
            "tampered_enc", "a byte of enc flipped", a12, payload: json(m), receiver: idA, deviceKey: "device_a",
            error: "bad_envelope", check: "open_failed")
        m = e
        m.ct.bytes.removeLast()
        try add(
            "truncated_ct", "ciphertext one byte short", a12, payload: json(m), receiver: idA, deviceKey: "device_a",
            error: "bad_envelope", check: "open_failed")

        try add(
            "wrong_service_key", "receiver pins another service key (kid differs)", a12, receiver: idA,
            deviceKey: "device_a", serviceKey: "other_service", error: "bad_envelope", check: "kid_mismatch")
        var forged = try seal(wifiA, .wifi, 14, idA, devA, by: other)
        forged.envelope.kid = Fingerprint.of(service.publicKey)
        try add(
            "sealed_by_other_service_key", "sealed by another service key, kid relabelled to the pinned key", forged,
            receiver: idA, deviceKey: "device_a", error: "bad_envelope", check: "open_failed")

        m = e
        m.enc.bytes.removeLast()
        try add(
            "truncated_enc", "enc is 31 bytes", a12, payload: json(m), receiver: idA, deviceKey: "device_a",
            error: "bad_envelope", check: "malformed")
        let good = try json(e)
        try add(
            "bad_base64_ct", "ct uses '+' (standard base64, not base64url)", a12,
            payload: good.replacingOccurrences(of: #""ct":""#, with: #""ct":"+"#), receiver: idA, deviceKey: "device_a",
            error: "bad_envelope", check: "malformed")
        try add(
            "bad_base64_padding", "enc with '=' padding", a12,
            payload: good.replacingOccurrences(of: "\"enc\":\"\(e.enc)\"", with: "\"enc\":\"\(e.enc)=\""),
            receiver: idA,
            deviceKey: "device_a", error: "bad_envelope", check: "malformed")
        try add(
            "unsupported_suite", "aead 1 (AES-128-GCM)", a12,
            payload: good.replacingOccurrences(of: #""aead":3"#, with: #""aead":1"#),
            receiver: idA, deviceKey: "device_a", error: "bad_envelope", check: "unsupported_suite")
        try add(
            "version_2", "v is 2", a12, payload: good.replacingOccurrences(of: #""v":1"#, with: #""v":2"#),
            receiver: idA,
            deviceKey: "device_a", error: "bad_envelope", check: "malformed")
        try add(
            "missing_kid", "no kid field", a12,
            payload: good.replacingOccurrences(of: "\"kid\":\"\(e.kid)\",", with: ""),
            receiver: idA, deviceKey: "device_a", error: "bad_envelope", check: "malformed")
        try add(
            "seq_zero", "seq 0", a12, payload: good.replacingOccurrences(of: #""seq":12"#, with: #""seq":0"#),
            receiver: idA,
            deviceKey: "device_a", error: "bad_envelope", check: "malformed")
        try add(
            "seq_string", "seq as a string", a12,
            payload: good.replacingOccurrences(of: #""seq":12"#, with: #""seq":"12""#),
            receiver: idA, deviceKey: "device_a", error: "bad_envelope", check: "malformed")
        try add(
            "unknown_kind", "kind 'firmware'", a12,
            payload: good.replacingOccurrences(of: #""kind":"wifi""#, with: #""kind":"firmware""#),
            receiver: idA, deviceKey: "device_a", error: "bad_envelope", check: "malformed")
        try add(
            "not_json", "truncated JSON", a12, payload: String(good.prefix(40)), receiver: idA, deviceKey: "device_a",
            error: "bad_envelope", check: "malformed")
        let pad = String(repeating: "x", count: Envelope.maxBytes)
        try add(
            "too_large", "valid envelope padded past 16384 bytes with an unknown field", a12,
            payload: good.replacingOccurrences(of: #""v":1"#, with: "\"v\":1,\"pad\":\"\(pad)\""), receiver: idA,
            deviceKey: "device_a", error: "too_large", check: "too_large")

        let fixture = EnvelopeFixture(
            description:
                "FleetBootstrap envelope vectors (Topics.md, 'Test vectors'). Generated by Tests/FleetProtocolTests/EnvelopeFixtureTests.swift.",
            format:
                "keys: name -> hex/base64url keys. cases: 'envelope' is the exact config payload; the receiver with id 'receiver_device' (also the topic id), private key 'receiver_private_hex' and pinned service key 'service_public_hex' opens it; expected 'ok' yields 'plaintext', 'error' yields status reason 'error'. info_hex/aad_hex are what the sender used for device/kind/seq.",
            suite: ["mode": 2, "kem": 32, "kdf": 1, "aead": 3], keys: fixtureKeys, cases: cases)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(fixture) + Data("\n".utf8)
    }
}
