import Crypto
import Foundation
import Testing

@testable import FleetProtocol

/// RFC 9180 test vector for our suite and mode (auth, X25519/HKDF-SHA256/ChaCha20-Poly1305).
///
/// swift-crypto does not let a sender inject the ephemeral key, so the vector is checked from the
/// recipient side with swift-crypto's HPKE, and the whole key schedule is recomputed independently
/// from the RFC's formulas (the same steps the C agent implements over OpenSSL).
@Suite struct RFC9180VectorTests {
    // The field names are the RFC's test-vector JSON names, kept as published.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct Vector: Decodable {
        struct Encryption: Decodable { let aad, ct, nonce, pt: String }
        // swift-format-ignore: AlwaysUseLowerCamelCase
        struct Export: Decodable {
            let exporter_context: String
            let L: Int
            let exported_value: String
        }
        let mode, kem_id, kdf_id, aead_id: Int
        let info, skRm, skSm, skEm, pkRm, pkSm, pkEm, enc: String
        let shared_secret, key_schedule_context, secret, key, base_nonce, exporter_secret: String
        let encryptions: [Encryption]
        let exports: [Export]
    }

    let v: Vector

    init() throws {
        v = try JSONDecoder().decode(Vector.self, from: TestSupport.fixture("rfc9180-auth-x25519-sha256-chacha.json"))
    }

    func h(_ s: String) throws -> [UInt8] { try TestSupport.hex(s) }

    @Test func vectorIsOurSuite() {
        #expect(v.mode == 2 && v.kem_id == Envelope.kemID && v.kdf_id == Envelope.kdfID && v.aead_id == Envelope.aeadID)
    }

    @Test func keysMatchTheVector() throws {
        let skR = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: h(v.skRm))
        let skS = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: h(v.skSm))
        let skE = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: h(v.skEm))
        #expect(Array(skR.publicKey.rawRepresentation) == (try h(v.pkRm)))
        #expect(Array(skS.publicKey.rawRepresentation) == (try h(v.pkSm)))
        #expect(Array(skE.publicKey.rawRepresentation) == (try h(v.enc)))
    }

    @Test func swiftCryptoRecipientOpensTheVectorCiphertexts() throws {
        let skR = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: h(v.skRm))
        let pkS = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: h(v.pkSm))
        var recipient = try HPKE.Recipient(
            privateKey: skR, ciphersuite: EnvelopeCrypto.ciphersuite, info: Data(h(v.info)),
            encapsulatedKey: Data(h(v.enc)), authenticatedBy: pkS)
        for e in v.encryptions {
            #expect(Array(try recipient.open(h(e.ct), authenticating: h(e.aad))) == (try h(e.pt)))
        }
        for x in v.exports {
            let secret = try recipient.exportSecret(context: h(x.exporter_context), outputByteCount: x.L)
            #expect(secret.withUnsafeBytes { Array($0) } == (try h(x.exported_value)))
        }
    }

    @Test func recipientRefusesAnotherSenderKey() throws {
        let skR = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: h(v.skRm))
        let wrongS = Curve25519.KeyAgreement.PrivateKey().publicKey
        var recipient = try HPKE.Recipient(
            privateKey: skR, ciphersuite: EnvelopeCrypto.ciphersuite, info: Data(h(v.info)),
            encapsulatedKey: Data(h(v.enc)), authenticatedBy: wrongS)
        #expect(throws: (any Error).self) {
            try recipient.open(h(v.encryptions[0].ct), authenticating: h(v.encryptions[0].aad))
        }
    }

    @Test func independentKeyScheduleReproducesEveryIntermediateValue() throws {
        let skR = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: h(v.skRm))
        let ks = try ReferenceHPKE.authKeySchedule(
            recipientPrivateKey: skR, enc: h(v.enc), senderPublicKey: h(v.pkSm), info: h(v.info))
        #expect(Hex.encode(ks.sharedSecret) == v.shared_secret)
        #expect(Hex.encode(ks.keyScheduleContext) == v.key_schedule_context)
        #expect(Hex.encode(ks.secret) == v.secret)
        #expect(Hex.encode(ks.key) == v.key)
        #expect(Hex.encode(ks.baseNonce) == v.base_nonce)
        #expect(Hex.encode(ks.exporterSecret) == v.exporter_secret)
        for (i, e) in v.encryptions.enumerated() {
            let nonce = ks.nonce(sequence: UInt64(i))
            #expect(Hex.encode(nonce) == e.nonce)
            let ct = try h(e.ct)
            let box = try ChaChaPoly.SealedBox(
                nonce: ChaChaPoly.Nonce(data: nonce), ciphertext: ct.dropLast(16), tag: ct.suffix(16))
            #expect(
                Array(try ChaChaPoly.open(box, using: SymmetricKey(data: ks.key), authenticating: h(e.aad)))
                    == (try h(e.pt)))
        }
    }
}

/// RFC 9180 §4–§5 written out with plain HKDF, to check swift-crypto and to document the steps.
enum ReferenceHPKE {
    struct KeySchedule {
        let sharedSecret, keyScheduleContext, secret, key, baseNonce, exporterSecret: [UInt8]

        func nonce(sequence: UInt64) -> [UInt8] {
            var n = baseNonce
            for i in 0..<8 { n[n.count - 1 - i] ^= UInt8(truncatingIfNeeded: sequence >> (8 * UInt64(i))) }
            return n
        }
    }

    static func i2osp(_ v: Int, _ n: Int) -> [UInt8] {
        (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * (n - 1 - $0))) }
    }

    static func labeledExtract(suite: [UInt8], salt: [UInt8], label: String, ikm: [UInt8]) -> [UInt8] {
        let input = Array("HPKE-v1".utf8) + suite + Array(label.utf8) + ikm
        return Array(HKDF<SHA256>.extract(inputKeyMaterial: SymmetricKey(data: input), salt: salt))
    }

    static func labeledExpand(suite: [UInt8], prk: [UInt8], label: String, info: [UInt8], length: Int) -> [UInt8] {
        let labeled = i2osp(length, 2) + Array("HPKE-v1".utf8) + suite + Array(label.utf8) + info
        return HKDF<SHA256>.expand(pseudoRandomKey: prk, info: labeled, outputByteCount: length).withUnsafeBytes {
            Array($0)
        }
    }

    /// The recipient's AuthDecap and KeySchedule for mode_auth with the suite (0x0020, 0x0001, 0x0003).
    static func authKeySchedule(
        recipientPrivateKey skR: Curve25519.KeyAgreement.PrivateKey, enc: [UInt8], senderPublicKey pkS: [UInt8],
        info: [UInt8]
    ) throws -> KeySchedule {
        let kemSuite = Array("KEM".utf8) + i2osp(0x20, 2)
        let pkE = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: enc)
        let pkSKey = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: pkS)
        let dh1 = try skR.sharedSecretFromKeyAgreement(with: pkE).withUnsafeBytes { Array($0) }
        let dh2 = try skR.sharedSecretFromKeyAgreement(with: pkSKey).withUnsafeBytes { Array($0) }
        let kemContext = enc + Array(skR.publicKey.rawRepresentation) + pkS
        let eaePRK = labeledExtract(suite: kemSuite, salt: [], label: "eae_prk", ikm: dh1 + dh2)
        let shared = labeledExpand(suite: kemSuite, prk: eaePRK, label: "shared_secret", info: kemContext, length: 32)

        let suite = Array("HPKE".utf8) + i2osp(0x20, 2) + i2osp(1, 2) + i2osp(3, 2)
        let pskIDHash = labeledExtract(suite: suite, salt: [], label: "psk_id_hash", ikm: [])
        let infoHash = labeledExtract(suite: suite, salt: [], label: "info_hash", ikm: info)
        let context = [0x02] + pskIDHash + infoHash
        let secret = labeledExtract(suite: suite, salt: shared, label: "secret", ikm: [])
        return KeySchedule(
            sharedSecret: shared, keyScheduleContext: context, secret: secret,
            key: labeledExpand(suite: suite, prk: secret, label: "key", info: context, length: 32),
            baseNonce: labeledExpand(suite: suite, prk: secret, label: "base_nonce", info: context, length: 12),
            exporterSecret: labeledExpand(suite: suite, prk: secret, label: "exp", info: context, length: 32))
    }
}
