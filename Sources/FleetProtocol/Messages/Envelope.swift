/// The retained payload of `P/v1/devices/{id}/config`: an HPKE auth-mode ciphertext for one device.
///
/// Build and open envelopes with `EnvelopeCrypto`.
public struct Envelope: FleetMessage, Hashable {
    public static let messageName = "envelope"
    public static let maxBytes = 16384
    /// Largest plaintext (profile JSON) in bytes.
    public static let maxPlaintextBytes = 8192
    /// ChaCha20-Poly1305 tag length.
    public static let tagBytes = 16

    /// The suite identifiers (RFC 9180): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305.
    public static let kemID = 32
    public static let kdfID = 1
    public static let aeadID = 3

    public var v: Int
    public var kind: PayloadKind
    public var device: DeviceID
    public var seq: UInt64
    public var kem: Int
    public var kdf: Int
    public var aead: Int
    /// Fingerprint of the service public key that sealed it.
    public var kid: String
    /// HPKE encapsulated key (32 bytes).
    public var enc: Base64URLBytes
    /// HPKE ciphertext: plaintext + 16-byte tag.
    public var ct: Base64URLBytes

    public init(
        kind: PayloadKind, device: DeviceID, seq: UInt64, kid: String, enc: [UInt8], ct: [UInt8],
        kem: Int = Envelope.kemID, kdf: Int = Envelope.kdfID, aead: Int = Envelope.aeadID
    ) {
        self.v = protocolVersion
        self.kind = kind
        self.device = device
        self.seq = seq
        self.kem = kem
        self.kdf = kdf
        self.aead = aead
        self.kid = kid
        self.enc = Base64URLBytes(enc)
        self.ct = Base64URLBytes(ct)
    }

    /// True when (kem, kdf, aead) is the one suite of protocol version 1.
    public var hasSupportedSuite: Bool { kem == Self.kemID && kdf == Self.kdfID && aead == Self.aeadID }

    public func validationIssues() -> [ValidationIssue] {
        var l = structuralIssues()
        if !hasSupportedSuite {
            l.add("kem", "unsupported suite (\(kem), \(kdf), \(aead)); only (32, 1, 3) is allowed")
        }
        return l.issues
    }

    /// Everything except the suite check.
    func structuralIssues() -> IssueList {
        var l = IssueList()
        l.version(v)
        l.seq("seq", seq, allowZero: false)
        l.fingerprint("kid", kid)
        if enc.count != 32 { l.add("enc", "must be 32 bytes, got \(enc.count)") }
        if ct.count < Self.tagBytes + 1 || ct.count > Self.maxPlaintextBytes + Self.tagBytes {
            l.add("ct", "must be 17–\(Self.maxPlaintextBytes + Self.tagBytes) bytes, got \(ct.count)")
        }
        return l
    }
}
