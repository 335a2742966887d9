import Crypto

/// Detects X25519 public keys of small order (for which every shared secret is all zeros).
///
/// swift-crypto on Linux does not reject an all-zero X25519 result, so a peer offering such a key
/// would get a predictable broker password and HPKE context. Every key that enters from outside
/// (hello, bootstrap URI, key file, service key message) is checked here.
public enum X25519KeyCheck {
    /// Any clamped scalar is a multiple of 8, so one fixed random probe key suffices.
    private static let probe = Curve25519.KeyAgreement.PrivateKey()

    /// True when `raw` is not 32 bytes or is a point of small order.
    public static func isUnusable(_ raw: [UInt8]) -> Bool {
        guard raw.count == 32, let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: raw) else {
            return true
        }
        return isUnusable(key)
    }

    /// True when `key` is a point of small order.
    public static func isUnusable(_ key: Curve25519.KeyAgreement.PublicKey) -> Bool {
        guard let shared = try? probe.sharedSecretFromKeyAgreement(with: key) else { return true }
        return shared.withUnsafeBytes { $0.allSatisfy { $0 == 0 } }
    }
}
