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
    /// What happened, e.g. `device.pending`.
    public var type: AuditEventType
    public var device: DeviceID?
    public var fingerprint: String?
    public var seq: UInt64?
    /// The device state the event is about (`device.applied`, `device.failed`, `device.reset`).
    public var state: DeviceState?
    /// Why a device failed (`device.failed`).
    public var reason: ReasonCode?
    public var detail: String?
    /// The operator who caused it (JSON field `operator`).
    public var operatorName: String?
    public var ts: Int64

    enum CodingKeys: String, CodingKey {
        case v, type, device, fingerprint, seq, state, reason, detail, ts
        case operatorName = "operator"
    }

    public init(
        type: AuditEventType, device: DeviceID? = nil, fingerprint: String? = nil, seq: UInt64? = nil,
        state: DeviceState? = nil, reason: ReasonCode? = nil, detail: String? = nil, operatorName: String? = nil,
        ts: Int64
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
        if let fingerprint { l.fingerprint("fingerprint", fingerprint) }
        if let seq { l.seq("seq", seq, allowZero: true) }
        if let detail {
            l.length("detail", detail, 0...Self.maxDetailBytes)
            l.noControl("detail", detail)
        }
        if let operatorName, let p = Identifier.problem(operatorName) { l.add("operator", p) }
        l.timestamp("ts", ts)
        return l.issues
    }
}
