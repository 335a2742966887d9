import Crypto
import Foundation
import Testing

@testable import FleetProtocol

@Suite struct EnvelopeCryptoTests {
    let service = Curve25519.KeyAgreement.PrivateKey()
    let device = Curve25519.KeyAgreement.PrivateKey()
    let id = TestSupport.id("omega-a1b2")

    @Test func contextBytesFollowTheDocumentedLayout() {
        let ctx = EnvelopeCrypto.context(kind: .reset, seq: 0x0102_0304_0506_0708, device: TestSupport.id("ab"))
        #expect(ctx == [0x01, 0x02, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x02, 0x61, 0x62])
        let info = EnvelopeCrypto.info(kind: .wifi, seq: 12, device: id)
        #expect(info.count == 22 + 11 + 10)
        #expect(Array(info.prefix(22)) == Array("fleetbootstrap-v1 info".utf8))
        let aad = EnvelopeCrypto.aad(kind: .wifi, seq: 12, device: id)
        #expect(Array(aad.prefix(21)) == Array("fleetbootstrap-v1 aad".utf8))
        #expect(Array(aad.dropFirst(21)) == Array(info.dropFirst(22)))
    }

    @Test func sealedProfileOpensOnlyForItsDevice() throws {
        let profile = WiFiProfile(ssid: "Premises", encryption: .psk2, key: "correct horse battery")
        let e = try EnvelopeCrypto.seal(
            profile: profile, seq: 7, device: id, devicePublicKey: device.publicKey, servicePrivateKey: service)
        #expect(e.kid == Fingerprint.of(service.publicKey) && e.enc.count == 32)
        let payload = try MessageCodec.encode(e)
        #expect(!String(decoding: payload, as: UTF8.self).contains("correct horse"))
        let opened = try EnvelopeCrypto.open(
            payload: payload, device: id, devicePrivateKey: device, servicePublicKey: service.publicKey)
        #expect(try MessageCodec.decode(WiFiProfile.self, from: opened.plaintext) == profile)
        #expect(throws: EnvelopeError.wrongDevice(expected: TestSupport.id("other"), found: id)) {
            try EnvelopeCrypto.open(
                payload: payload, device: TestSupport.id("other"), devicePrivateKey: device,
                servicePublicKey: service.publicKey)
        }
    }

    @Test func rejectsReplayedSequenceBeforeOpening() throws {
        let e = try EnvelopeCrypto.seal(
            reset: ResetCommand(reason: "revoked"), seq: 5, device: id, devicePublicKey: device.publicKey,
            servicePrivateKey: service)
        #expect(throws: EnvelopeError.replay(seq: 5, highestApplied: 5)) {
            try EnvelopeCrypto.open(
                e, device: id, devicePrivateKey: device, servicePublicKey: service.publicKey, highestAppliedSeq: 5)
        }
        let pt = try EnvelopeCrypto.open(
            e, device: id, devicePrivateKey: device, servicePublicKey: service.publicKey, highestAppliedSeq: 4)
        #expect(try MessageCodec.decode(ResetCommand.self, from: pt).reason == "revoked")
    }

    @Test func rejectsAPayloadArrivingOnAnotherDevicesTopic() throws {
        let e = try EnvelopeCrypto.seal(
            plaintext: Array("x".utf8), kind: .wifi, seq: 1, device: id, devicePublicKey: device.publicKey,
            servicePrivateKey: service)
        let err: EnvelopeError? = {
            do {
                _ = try EnvelopeCrypto.open(
                    payload: try MessageCodec.encode(e), device: id, topicDevice: TestSupport.id("omega-zzzz"),
                    devicePrivateKey: device, servicePublicKey: service.publicKey)
                return nil
            } catch let error as EnvelopeError { return error } catch { return nil }
        }()
        #expect(err?.reason == .wrongDevice)
    }

    @Test func sealRefusesOutOfRangeSeqAndPlaintext() {
        for seq in [UInt64(0), maxJSONSafeInteger + 1] {
            #expect(throws: ProtocolError.self) {
                try EnvelopeCrypto.seal(
                    plaintext: [1], kind: .wifi, seq: seq, device: id, devicePublicKey: device.publicKey,
                    servicePrivateKey: service)
            }
        }
        for size in [0, Envelope.maxPlaintextBytes + 1] {
            #expect(throws: ProtocolError.self) {
                try EnvelopeCrypto.seal(
                    plaintext: [UInt8](repeating: 0x41, count: size), kind: .wifi, seq: 1, device: id,
                    devicePublicKey: device.publicKey, servicePrivateKey: service)
            }
        }
        #expect(throws: ProtocolError.self) {
            try EnvelopeCrypto.seal(
                profile: WiFiProfile(ssid: "x", encryption: .psk2, key: "short"), seq: 1, device: id,
                devicePublicKey: device.publicKey, servicePrivateKey: service)
        }
    }

    @Test func largestPlaintextFitsTheEnvelopeLimit() throws {
        let e = try EnvelopeCrypto.seal(
            plaintext: [UInt8](repeating: 0x41, count: Envelope.maxPlaintextBytes), kind: .wifi,
            seq: maxJSONSafeInteger,
            device: TestSupport.id(String(repeating: "d", count: 64)), devicePublicKey: device.publicKey,
            servicePrivateKey: service)
        let payload = try MessageCodec.encode(e)
        #expect(payload.count <= Envelope.maxBytes, "largest envelope payload: \(payload.count) bytes")
    }

    @Test func everyReasonMapsAsDocumented() {
        #expect(EnvelopeError.openFailed.reason == .badEnvelope)
        #expect(EnvelopeError.kidMismatch.reason == .badEnvelope)
        #expect(EnvelopeError.malformed("x").reason == .badEnvelope)
        #expect(EnvelopeError.unsupportedSuite(kem: 1, kdf: 1, aead: 1).reason == .badEnvelope)
        #expect(EnvelopeError.tooLarge(bytes: 1).reason == .tooLarge)
    }
}

@Suite struct FingerprintTests {
    @Test func formatIsFourGroupsOfLowercaseHex() throws {
        let key = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: [UInt8](repeating: 0, count: 32))
        let digest = Hex.encode(SHA256.hash(data: [UInt8](repeating: 0, count: 32)))
        let fp = Fingerprint.of(key)
        #expect(
            fp
                == "\(digest.prefix(4))-\(digest.dropFirst(4).prefix(4))-\(digest.dropFirst(8).prefix(4))-\(digest.dropFirst(12).prefix(4))"
        )
        #expect(fp == "6668-7aad-f862-bd77")
        #expect(Fingerprint.isWellFormed(fp))
        for bad in ["6668-7aad-f862-bd7", "6668-7AAD-f862-bd77", "66687aadf862bd776c8f", "6668_7aad_f862_bd77"] {
            #expect(!Fingerprint.isWellFormed(bad))
        }
    }
}

@Suite struct BrokerCredentialsTests {
    @Test func bothSidesDeriveTheSamePassword() throws {
        let service = Curve25519.KeyAgreement.PrivateKey()
        let device = Curve25519.KeyAgreement.PrivateKey()
        let id = TestSupport.id("omega-a1b2")
        let d = try BrokerCredentials.password(
            device: id, devicePrivateKey: device, servicePublicKey: service.publicKey)
        let s = try BrokerCredentials.password(
            device: id, servicePrivateKey: service, devicePublicKey: device.publicKey)
        #expect(d == s)
        #expect(d.utf8.count == 43 && Base64URL.decode(d)?.count == 32)
        let other = try BrokerCredentials.password(
            device: TestSupport.id("omega-a1b3"), devicePrivateKey: device, servicePublicKey: service.publicKey)
        #expect(other != d)
    }

    @Test func matchesTheDocumentedFormula() throws {
        let service = try EnvelopeFixtureGenerator.key(seed: "fleetbootstrap fixture service")
        let device = try EnvelopeFixtureGenerator.key(seed: "fleetbootstrap fixture device a")
        let shared = try device.sharedSecretFromKeyAgreement(with: service.publicKey)
        let expected = shared.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: Array("fleetbootstrap-v1 broker".utf8), sharedInfo: Array("omega-a1b2".utf8),
            outputByteCount: 32
        ).withUnsafeBytes { Base64URL.encode($0) }
        let got = try BrokerCredentials.password(
            device: TestSupport.id("omega-a1b2"), devicePrivateKey: device, servicePublicKey: service.publicKey)
        #expect(got == expected)
    }

    /// Small-order points: 0, 1, and the order-8 point from the X25519 literature.
    static let lowOrderPoints: [[UInt8]] = [
        [UInt8](repeating: 0, count: 32), [1] + [UInt8](repeating: 0, count: 31),
        Hex.decode("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")!,
    ]

    @Test(arguments: lowOrderPoints)
    func refusesALowOrderPublicKeyEverywhere(_ raw: [UInt8]) throws {
        #expect(X25519KeyCheck.isUnusable(raw))
        let bad = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: raw)
        let service = Curve25519.KeyAgreement.PrivateKey()
        #expect(throws: ProtocolError.self) {
            try BrokerCredentials.password(
                device: TestSupport.id("d"), servicePrivateKey: service, devicePublicKey: bad)
        }
        #expect(throws: ProtocolError.self) {
            try EnvelopeCrypto.seal(
                plaintext: [1], kind: .wifi, seq: 1, device: TestSupport.id("d"), devicePublicKey: bad,
                servicePrivateKey: service)
        }
        let hello = Hello(device: TestSupport.id("d"), publicKey: bad, agent: "1", caps: [], boot: 0, nonce: "00")
        #expect(hello.validationIssues().map(\.field) == ["pubkey"])
        let body = "FB1:I:d;K:\(Base64URL.encode(raw));"
        #expect(throws: ProtocolError.self) {
            try BootstrapURI(parsing: body + "X:\(BootstrapURI.checksum(of: Array(body.utf8)));;")
        }
        #expect(!X25519KeyCheck.isUnusable(service.publicKey))
    }
}

@Suite struct OperatorSecretBoxTests {
    let service = Curve25519.KeyAgreement.PrivateKey()

    @Test func serviceOpensWhatAnOperatorSealed() throws {
        let box = try OperatorSecretBox.seal(
            Array("hunter22hunter22".utf8), correlation: "c0ffee01", servicePublicKey: service.publicKey)
        #expect(box.enc.count == 32 && box.ct.count == 16 + 16)
        #expect(
            try OperatorSecretBox.open(box, correlation: "c0ffee01", servicePrivateKey: service)
                == Array("hunter22hunter22".utf8))
        let json = try JSONValue(encoding: box)
        #expect(try json.decode(SealedSecret.self) == box)
    }

    @Test func boxIsBoundToItsCorrelationIDAndKey() throws {
        let box = try OperatorSecretBox.seal([1, 2, 3], correlation: "c1", servicePublicKey: service.publicKey)
        #expect(throws: EnvelopeError.openFailed) {
            try OperatorSecretBox.open(box, correlation: "c2", servicePrivateKey: service)
        }
        #expect(throws: EnvelopeError.openFailed) {
            try OperatorSecretBox.open(box, correlation: "c1", servicePrivateKey: Curve25519.KeyAgreement.PrivateKey())
        }
        var tampered = box
        tampered.ct.bytes[0] ^= 1
        #expect(throws: EnvelopeError.openFailed) {
            try OperatorSecretBox.open(tampered, correlation: "c1", servicePrivateKey: service)
        }
        var short = box
        short.enc.bytes.removeLast()
        #expect(throws: EnvelopeError.self) {
            try OperatorSecretBox.open(short, correlation: "c1", servicePrivateKey: service)
        }
        #expect(throws: EnvelopeError.self) {
            try OperatorSecretBox.open(box, correlation: "c/1", servicePrivateKey: service)
        }
    }

    @Test func infoIsLabelLengthAndID() throws {
        #expect(
            try OperatorSecretBox.info(correlation: "ab") == Array("fleetbootstrap-v1 operator".utf8) + [2, 0x61, 0x62])
    }

    @Test func matchesAnIndependentBaseModeOpen() throws {
        // Base mode seen from RFC 9180 directly: a recipient context built with swift-crypto's
        // lower-level API must agree with the box. Here: seal with the box, open with a plain HPKE
        // recipient using the documented info and empty AAD.
        let box = try OperatorSecretBox.seal(Array("k".utf8), correlation: "x9", servicePublicKey: service.publicKey)
        var r = try HPKE.Recipient(
            privateKey: service, ciphersuite: .Curve25519_SHA256_ChachaPoly,
            info: Data("fleetbootstrap-v1 operator".utf8 + [2] + "x9".utf8), encapsulatedKey: Data(box.enc.bytes))
        #expect(Array(try r.open(box.ct.bytes)) == Array("k".utf8))
    }
}

@Suite struct EnvelopeSequenceTests {
    /// Many envelopes to one device under one service key: each opens to its own sequence number and
    /// the profile, each has a fresh ephemeral `enc`, and none opens under another envelope's sequence.
    /// (Seal and open rates are measured by `fleet-bench crypto`, not here.)
    @Test func everyEnvelopeIsFreshAndBoundToItsSequence() throws {
        let service = Curve25519.KeyAgreement.PrivateKey()
        let device = Curve25519.KeyAgreement.PrivateKey()
        let id = try DeviceID("omega-a1b2")
        let profile = WiFiProfile(ssid: "Premises", encryption: .psk2, key: "correct horse battery")
        let envelopes = try (1...300).map {
            try EnvelopeCrypto.seal(
                profile: profile, seq: UInt64($0), device: id, devicePublicKey: device.publicKey,
                servicePrivateKey: service)
        }
        #expect(Set(envelopes.map { Hex.encode($0.enc.bytes) }).count == envelopes.count)
        for (i, e) in envelopes.enumerated() {
            #expect(e.seq == UInt64(i + 1))
            let plain = try EnvelopeCrypto.open(
                e, device: id, devicePrivateKey: device, servicePublicKey: service.publicKey,
                highestAppliedSeq: UInt64(i))
            #expect(try MessageCodec.decode(WiFiProfile.self, from: plain) == profile)
            #expect(throws: EnvelopeError.self) {
                try EnvelopeCrypto.open(
                    e, device: id, devicePrivateKey: device, servicePublicKey: service.publicKey,
                    highestAppliedSeq: UInt64(i + 1))
            }
        }
        var moved = envelopes[0]
        moved.seq = 2
        #expect(throws: EnvelopeError.self) {
            try EnvelopeCrypto.open(moved, device: id, devicePrivateKey: device, servicePublicKey: service.publicKey)
        }
    }
}
