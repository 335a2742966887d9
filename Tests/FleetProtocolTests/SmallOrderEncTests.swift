import Crypto
import FleetProtocol
import Foundation
import Testing

/// RFC 9180 written out for a sender that picks a small-order `enc`: then DH(skR, enc) is all zeros,
/// which anybody can compute, so the box is built here without any ephemeral private key.
/// Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305.
private enum ForgedHPKE {
    static let kemSuite: [UInt8] = Array("KEM".utf8) + [0x00, 0x20]
    static let suite: [UInt8] = Array("HPKE".utf8) + [0x00, 0x20, 0x00, 0x01, 0x00, 0x03]

    static func labeledExtract(salt: [UInt8], suite: [UInt8], label: String, ikm: [UInt8]) -> [UInt8] {
        let input = Array("HPKE-v1".utf8) + suite + Array(label.utf8) + ikm
        let prk = HKDF<SHA256>.extract(inputKeyMaterial: SymmetricKey(data: input), salt: salt)
        return Array(prk)
    }

    static func labeledExpand(prk: [UInt8], suite: [UInt8], label: String, info: [UInt8], length: Int) -> [UInt8] {
        let labeled =
            [UInt8(length >> 8), UInt8(length & 0xff)] + Array("HPKE-v1".utf8) + suite + Array(label.utf8) + info
        let okm = HKDF<SHA256>.expand(pseudoRandomKey: prk, info: labeled, outputByteCount: length)
        return okm.withUnsafeBytes { Array($0) }
    }

    /// Seals `plaintext` with `enc` fixed; `dh` is what the recipient will compute, `kemContext`
    /// is `enc ‖ pkR` (base) or `enc ‖ pkR ‖ pkS` (auth), `mode` 0x00 or 0x02.
    static func seal(
        plaintext: [UInt8], dh: [UInt8], kemContext: [UInt8], mode: UInt8, info: [UInt8], aad: [UInt8]
    ) throws -> [UInt8] {
        let eaePRK = labeledExtract(salt: [], suite: kemSuite, label: "eae_prk", ikm: dh)
        let shared = labeledExpand(prk: eaePRK, suite: kemSuite, label: "shared_secret", info: kemContext, length: 32)
        let pskIDHash = labeledExtract(salt: [], suite: suite, label: "psk_id_hash", ikm: [])
        let infoHash = labeledExtract(salt: [], suite: suite, label: "info_hash", ikm: info)
        let context = [mode] + pskIDHash + infoHash
        let secret = labeledExtract(salt: shared, suite: suite, label: "secret", ikm: [])
        let key = labeledExpand(prk: secret, suite: suite, label: "key", info: context, length: 32)
        let nonce = labeledExpand(prk: secret, suite: suite, label: "base_nonce", info: context, length: 12)
        let box = try ChaChaPoly.seal(
            plaintext, using: SymmetricKey(data: key), nonce: ChaChaPoly.Nonce(data: nonce), authenticating: aad)
        return Array(box.ciphertext) + Array(box.tag)
    }
}

@Suite struct SmallOrderEncTests {
    let zero = [UInt8](repeating: 0, count: 32)

    @Test func forgedBoxMatchesSwiftCryptoForAnHonestKey() throws {
        // The hand-written key schedule is right: with an honest ephemeral key it opens normally.
        let service = Curve25519.KeyAgreement.PrivateKey()
        let ephemeral = Curve25519.KeyAgreement.PrivateKey()
        let dh = try ephemeral.sharedSecretFromKeyAgreement(with: service.publicKey).withUnsafeBytes { Array($0) }
        let enc = Array(ephemeral.publicKey.rawRepresentation)
        let ct = try ForgedHPKE.seal(
            plaintext: Array("k".utf8), dh: dh, kemContext: enc + Array(service.publicKey.rawRepresentation), mode: 0,
            info: try OperatorSecretBox.info(correlation: "c1"), aad: [])
        let box = SealedSecret(enc: enc, ct: ct)
        #expect(try OperatorSecretBox.open(box, correlation: "c1", servicePrivateKey: service) == Array("k".utf8))
    }

    @Test func operatorBoxWithASmallOrderEncIsRefused() throws {
        let service = Curve25519.KeyAgreement.PrivateKey()
        let ct = try ForgedHPKE.seal(
            plaintext: Array("known key".utf8), dh: zero, kemContext: zero + Array(service.publicKey.rawRepresentation),
            mode: 0, info: try OperatorSecretBox.info(correlation: "c1"), aad: [])
        #expect(throws: EnvelopeError.openFailed) {
            try OperatorSecretBox.open(SealedSecret(enc: zero, ct: ct), correlation: "c1", servicePrivateKey: service)
        }
    }

    @Test func envelopeWithASmallOrderEncIsRefused() throws {
        let service = Curve25519.KeyAgreement.PrivateKey()
        let device = Curve25519.KeyAgreement.PrivateKey()
        let id = try DeviceID("omega-a1b2")
        var envelope = try EnvelopeCrypto.seal(
            plaintext: [1], kind: .wifi, seq: 3, device: id, devicePublicKey: device.publicKey,
            servicePrivateKey: service)
        // Auth mode: dh = DH(skR, enc) ‖ DH(skR, pkS); the first half is zero for a small-order enc.
        let staticDH = try device.sharedSecretFromKeyAgreement(with: service.publicKey).withUnsafeBytes { Array($0) }
        let ct = try ForgedHPKE.seal(
            plaintext: Array("{}".utf8), dh: zero + staticDH,
            kemContext: zero + Array(device.publicKey.rawRepresentation) + Array(service.publicKey.rawRepresentation),
            mode: 2, info: EnvelopeCrypto.info(kind: .wifi, seq: 3, device: id),
            aad: EnvelopeCrypto.aad(kind: .wifi, seq: 3, device: id))
        envelope.enc = Base64URLBytes(zero)
        envelope.ct = Base64URLBytes(ct)
        #expect(throws: EnvelopeError.openFailed) {
            try EnvelopeCrypto.open(envelope, device: id, devicePrivateKey: device, servicePublicKey: service.publicKey)
        }
    }
}
