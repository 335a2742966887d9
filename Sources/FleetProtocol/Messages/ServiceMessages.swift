import Crypto

/// The service's retained status on `P/v1/service/status` (also its will, `offline`).
public struct ServiceStatus: FleetMessage, Hashable {
    public static let messageName = "service status"
    public static let maxBytes = 1024

    public var v: Int
    public var state: ServiceState
    /// Fingerprint of the service public key.
    public var kid: String
    /// Service version, 1–32 printable ASCII.
    public var version: String
    public var ts: Int64

    public init(state: ServiceState, kid: String, version: String, ts: Int64) {
        self.v = protocolVersion
        self.state = state
        self.kid = kid
        self.version = version
        self.ts = ts
    }

    public func validationIssues() -> [ValidationIssue] {
        var l = IssueList()
        l.version(v)
        l.fingerprint("kid", kid)
        l.printableASCII("version", version, 1...32)
        l.timestamp("ts", ts)
        return l.issues
    }
}

/// The service public key, retained on `P/v1/service/pubkey` (informational; devices pin the key).
public struct ServicePublicKeyMessage: FleetMessage, Hashable {
    public static let messageName = "service public key"
    public static let maxBytes = 1024

    public var v: Int
    public var pubkey: Base64URLBytes
    /// Must equal the fingerprint of `pubkey`.
    public var kid: String

    public init(publicKey: Curve25519.KeyAgreement.PublicKey) {
        self.v = protocolVersion
        self.pubkey = Base64URLBytes(Array(publicKey.rawRepresentation))
        self.kid = Fingerprint.of(publicKey)
    }

    /// The announced key.
    public func publicKey() throws(ProtocolError) -> Curve25519.KeyAgreement.PublicKey {
        try x25519PublicKey(pubkey, field: "pubkey")
    }

    public func validationIssues() -> [ValidationIssue] {
        var l = IssueList()
        l.version(v)
        l.publicKey("pubkey", pubkey)
        l.fingerprint("kid", kid)
        if pubkey.count == 32 && Fingerprint.isWellFormed(kid) && Fingerprint.of(rawPublicKey: pubkey.bytes) != kid {
            l.add("kid", "does not match the fingerprint of pubkey")
        }
        return l.issues
    }
}

/// One entry of the audit stream on `P/v1/events`. Never carries a secret.
public struct AuditEvent: FleetMessage, Hashable {
    public static let messageName = "audit event"
    public static let maxBytes = 4096
    /// Longest `detail` in bytes.
    public static let maxDetailBytes = 1024

    public var v: Int
    /// Event type, 1–64 of `[a-z0-9._-]`, e.g. `device.pending`.
    public var type: String
    public var device: DeviceID?
    public var fingerprint: String?
    public var seq: UInt64?
    /// A device state or registry state, 1–32 of `[a-z0-9._-]`.
    public var state: String?
    /// A reason code (or another short code), 1–64 of `[a-z0-9._-]`.
    public var reason: String?
    public var detail: String?
    /// The operator who caused it (JSON field `operator`).
    public var operatorName: String?
    public var ts: Int64

    enum CodingKeys: String, CodingKey {
        case v, type, device, fingerprint, seq, state, reason, detail, ts
        case operatorName = "operator"
    }

    public init(
        type: String, device: DeviceID? = nil, fingerprint: String? = nil, seq: UInt64? = nil,
        state: String? = nil, reason: String? = nil, detail: String? = nil, operatorName: String? = nil, ts: Int64
    ) {
        self.v = protocolVersion
        self.type = type
        self.device = device
        self.fingerprint = fingerprint
        self.seq = seq
        self.state = state
        self.reason = reason
        self.detail = detail
        self.operatorName = operatorName
        self.ts = ts
    }

    public func validationIssues() -> [ValidationIssue] {
        var l = IssueList()
        l.version(v)
        l.token("type", type, 1...64)
        if let fingerprint { l.fingerprint("fingerprint", fingerprint) }
        if let seq { l.seq("seq", seq, allowZero: true) }
        if let state { l.token("state", state, 1...32) }
        if let reason { l.token("reason", reason, 1...64) }
        if let detail {
            l.length("detail", detail, 0...Self.maxDetailBytes)
            l.noControl("detail", detail)
        }
        if let operatorName, let p = Identifier.problem(operatorName) { l.add("operator", p) }
        l.timestamp("ts", ts)
        return l.issues
    }
}

extension IssueList {
    /// 1…n bytes of `[a-z0-9._-]`.
    mutating func token(_ field: String, _ s: String, _ range: ClosedRange<Int>) {
        let ok =
            range.contains(s.utf8.count)
            && s.utf8.allSatisfy { b in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
                    || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
            }
        if !ok { add(field, "must be \(range.lowerBound)–\(range.upperBound) of [a-z0-9._-]") }
    }
}
