import Crypto
import Foundation

/// A secret sealed by an operator to the service public key: `{"enc": ..., "ct": ...}` in base64url.
public struct SealedSecret: Codable, Hashable, Sendable {
    /// HPKE encapsulated key (32 bytes).
    public var enc: Base64URLBytes
    /// HPKE ciphertext (plaintext + 16-byte tag).
    public var ct: Base64URLBytes

    public init(enc: [UInt8], ct: [UInt8]) {
        self.enc = Base64URLBytes(enc)
        self.ct = Base64URLBytes(ct)
    }
}

/// How fleetctl hands a Wi-Fi key (or a whole profile JSON) to provisiond without it appearing on the
/// broker: HPKE base mode (0x00) to the service public key, same suite as envelopes,
/// `info = "fleetbootstrap-v1 operator" ‖ u8 len(correlation id) ‖ correlation id`, empty AAD.
///
/// Base mode does not authenticate the sender; who may publish operator requests is decided by the
/// broker ACL (operator accounts only). Binding the correlation id stops a box from being replayed
/// under another request id.
public enum OperatorSecretBox {
    /// ASCII label that starts `info` (26 bytes).
    public static let infoLabel: [UInt8] = Array("fleetbootstrap-v1 operator".utf8)
    /// Largest secret in bytes.
    public static let maxPlaintextBytes = Envelope.maxPlaintextBytes

    /// `info` for a correlation id.
    public static func info(correlation: String) throws(ProtocolError) -> [UInt8] {
        try Identifier.validateCorrelation(correlation)
        let id = Array(correlation.utf8)
        return infoLabel + [UInt8(id.count)] + id
    }

    /// Seals `plaintext` (1…8192 bytes) to the service.
    public static func seal(
        _ plaintext: [UInt8], correlation: String, servicePublicKey: Curve25519.KeyAgreement.PublicKey
    ) throws(ProtocolError) -> SealedSecret {
        guard !plaintext.isEmpty && plaintext.count <= maxPlaintextBytes else {
            throw ProtocolError(.tooLarge, "secret is \(plaintext.count) bytes, must be 1–\(maxPlaintextBytes)")
        }
        let info = try info(correlation: correlation)
        do {
            var sender = try HPKE.Sender(
                recipientKey: servicePublicKey, ciphersuite: EnvelopeCrypto.ciphersuite, info: Data(info))
            let ct = try sender.seal(plaintext, authenticating: [UInt8]())
            return SealedSecret(enc: Array(sender.encapsulatedKey), ct: Array(ct))
        } catch {
            throw ProtocolError(.crypto, "HPKE seal of operator secret failed")
        }
    }

    /// Opens a box on the service side.
    /// - Throws: `.malformed` for a bad correlation id or lengths, `.openFailed` for every crypto failure.
    public static func open(
        _ box: SealedSecret, correlation: String, servicePrivateKey: Curve25519.KeyAgreement.PrivateKey
    ) throws(EnvelopeError) -> [UInt8] {
        let info: [UInt8]
        do {
            info = try self.info(correlation: correlation)
        } catch {
            throw .malformed(error.message)
        }
        if box.enc.count != 32 { throw .malformed("enc must be 32 bytes, got \(box.enc.count)") }
        if box.ct.count < Envelope.tagBytes + 1 || box.ct.count > maxPlaintextBytes + Envelope.tagBytes {
            throw .malformed("ct must be 17–\(maxPlaintextBytes + Envelope.tagBytes) bytes, got \(box.ct.count)")
        }
        // A small-order `enc` makes DH(skR, enc) all zeros, a shared secret anybody can compute
        // (swift-crypto does not refuse it).
        if X25519KeyCheck.isUnusable(box.enc.bytes) { throw .openFailed }
        do {
            var recipient = try HPKE.Recipient(
                privateKey: servicePrivateKey, ciphersuite: EnvelopeCrypto.ciphersuite, info: Data(info),
                encapsulatedKey: Data(box.enc.bytes))
            return Array(try recipient.open(box.ct.bytes, authenticating: [UInt8]()))
        } catch {
            throw .openFailed
        }
    }
}
