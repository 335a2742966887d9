import Crypto
import FleetProtocol
import Foundation

/// The service's X25519 key pair and what it publishes about itself.
public struct ServiceIdentity: Sendable {
    public let privateKey: Curve25519.KeyAgreement.PrivateKey
    public var publicKey: Curve25519.KeyAgreement.PublicKey { privateKey.publicKey }
    /// Fingerprint of the public key: the envelope `kid`.
    public let fingerprint: String

    public init(privateKey: Curve25519.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
        self.fingerprint = Fingerprint.of(privateKey.publicKey)
    }

    /// Loads the key file (Topics.md "Key files").
    public init(privateKeyFile path: String) throws(ProtocolError) {
        self.init(privateKey: try KeyFile.loadPrivateKey(from: path))
    }

    /// The registry's at-rest key, derived from the private key.
    public var atRestCipher: AtRestCipher { AtRestCipher(servicePrivateKey: privateKey.rawRepresentation) }

    /// The retained `P/v1/service/pubkey` payload.
    /// - Throws: `ProtocolError` if the message cannot be encoded. Never an empty payload: empty and
    ///   retained would delete the topic's retained message.
    public func publicKeyPayload() throws(ProtocolError) -> [UInt8] {
        try MessageCodec.encode(ServicePublicKeyMessage(publicKey: publicKey))
    }

    /// The retained `P/v1/service/status` payload (also the will, with `online: false`).
    /// - Throws: `ProtocolError` for a `version` that is not 1–32 printable ASCII.
    public func statusPayload(online: Bool, version: String, now: Int64 = Int64(Date().timeIntervalSince1970))
        throws(ProtocolError) -> [UInt8]
    {
        try MessageCodec.encode(
            ServiceStatus(state: online ? .online : .offline, kid: fingerprint, version: version, ts: now))
    }
}
