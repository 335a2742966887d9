import Crypto

/// The derived broker password of a device: both sides compute it, it never crosses the network.
///
/// `password = base64url(HKDF-SHA256(salt = "fleetbootstrap-v1 broker", ikm = X25519(...), info = device id, L = 32))`
public enum BrokerCredentials {
    /// HKDF salt.
    public static let salt: [UInt8] = Array("fleetbootstrap-v1 broker".utf8)

    /// The device side: X25519(device private, service public).
    /// - Throws: `.crypto` when the key agreement fails (a low-order public key).
    public static func password(
        device: DeviceID, devicePrivateKey: Curve25519.KeyAgreement.PrivateKey,
        servicePublicKey: Curve25519.KeyAgreement.PublicKey
    ) throws(ProtocolError) -> String {
        try derive(device: device, privateKey: devicePrivateKey, publicKey: servicePublicKey)
    }

    /// The service side: X25519(service private, device public).
    /// - Throws: `.crypto` when the key agreement fails (a low-order public key).
    public static func password(
        device: DeviceID, servicePrivateKey: Curve25519.KeyAgreement.PrivateKey,
        devicePublicKey: Curve25519.KeyAgreement.PublicKey
    ) throws(ProtocolError) -> String {
        try derive(device: device, privateKey: servicePrivateKey, publicKey: devicePublicKey)
    }

    private static func derive(
        device: DeviceID, privateKey: Curve25519.KeyAgreement.PrivateKey, publicKey: Curve25519.KeyAgreement.PublicKey
    ) throws(ProtocolError) -> String {
        let shared: SharedSecret
        do {
            shared = try privateKey.sharedSecretFromKeyAgreement(with: publicKey)
        } catch {
            throw ProtocolError(.crypto, "X25519 key agreement failed for device '\(device)' (low-order public key?)")
        }
        if shared.withUnsafeBytes({ $0.allSatisfy { $0 == 0 } }) {
            throw ProtocolError(.crypto, "public key for device '\(device)' is a low-order X25519 point")
        }
        let key = shared.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: salt, sharedInfo: Array(device.rawValue.utf8), outputByteCount: 32)
        return key.withUnsafeBytes { Base64URL.encode($0) }
    }
}
