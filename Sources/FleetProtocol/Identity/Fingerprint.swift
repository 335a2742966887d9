import Crypto

/// Short, human-comparable key fingerprints: `hex(SHA-256(pub)[0..8])` as `3f2a-91c0-7d44-e810`.
public enum Fingerprint {
    /// The fingerprint of an X25519 public key.
    public static func of(_ publicKey: Curve25519.KeyAgreement.PublicKey) -> String {
        of(rawPublicKey: Array(publicKey.rawRepresentation))
    }

    /// The fingerprint of raw public key bytes.
    public static func of(rawPublicKey: [UInt8]) -> String {
        let hex = Array(Hex.encode(SHA256.hash(data: rawPublicKey).prefix(8)))
        return [hex[0..<4], hex[4..<8], hex[8..<12], hex[12..<16]].map { String($0) }.joined(separator: "-")
    }

    /// True for four groups of four lowercase hex digits joined by `-` (19 characters).
    public static func isWellFormed(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 19 else { return false }
        for (i, c) in b.enumerated() {
            if i % 5 == 4 {
                if c != UInt8(ascii: "-") { return false }
            } else if !Hex.isHexDigit(c, lowercaseOnly: true) {
                return false
            }
        }
        return true
    }
}
