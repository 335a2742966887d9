import Crypto

/// A device's announcement on `P/v1/devices/{id}/hello` after every (re)connect.
public struct Hello: FleetMessage, Hashable {
    public static let messageName = "hello"
    public static let maxBytes = 1024

    public var v: Int
    public var device: DeviceID
    /// The device's X25519 public key (32 bytes).
    public var pubkey: Base64URLBytes
    /// Agent version, 1–32 printable ASCII.
    public var agent: String
    /// Capabilities, 0–16 entries of 1–32 `[a-z0-9_-]`; known: `wifi`, `reset`.
    public var caps: [String]
    /// Boot counter.
    public var boot: UInt64
    /// 1–64 hex digits, fresh per hello.
    public var nonce: String

    public init(
        device: DeviceID, publicKey: Curve25519.KeyAgreement.PublicKey, agent: String, caps: [String],
        boot: UInt64, nonce: String
    ) {
        self.v = protocolVersion
        self.device = device
        self.pubkey = Base64URLBytes(Array(publicKey.rawRepresentation))
        self.agent = agent
        self.caps = caps
        self.boot = boot
        self.nonce = nonce
    }

    /// A fresh 16-hex-digit nonce for a hello.
    public static func makeNonce() -> String {
        var rng = SystemRandomNumberGenerator()
        let n: UInt64 = rng.next()
        return Hex.encode((0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) })
    }

    /// The announced public key.
    public func publicKey() throws(ProtocolError) -> Curve25519.KeyAgreement.PublicKey {
        try x25519PublicKey(pubkey, field: "pubkey")
    }

    public func validationIssues() -> [ValidationIssue] {
        var l = IssueList()
        l.version(v)
        l.publicKey("pubkey", pubkey)
        l.printableASCII("agent", agent, 1...32)
        if caps.count > 16 { l.add("caps", "has \(caps.count) entries, at most 16 allowed") }
        for (i, cap) in caps.enumerated() {
            let ok =
                (1...32).contains(cap.utf8.count)
                && cap.utf8.allSatisfy { b in
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b)
                        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
                        || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
                }
            if !ok { l.add("caps.\(i)", "must be 1–32 of [a-z0-9_-]") }
        }
        l.seq("boot", boot, allowZero: true)
        if !(1...64).contains(nonce.utf8.count) || !nonce.utf8.allSatisfy({ Hex.isHexDigit($0) }) {
            l.add("nonce", "must be 1–64 hex digits")
        }
        return l.issues
    }
}

func x25519PublicKey(_ b: Base64URLBytes, field: String) throws(ProtocolError) -> Curve25519.KeyAgreement.PublicKey {
    do {
        return try Curve25519.KeyAgreement.PublicKey(rawRepresentation: b.bytes)
    } catch {
        throw ProtocolError(.badBase64, "\(field) is not a 32-byte X25519 public key")
    }
}
