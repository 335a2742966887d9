/// A device's retained status on `P/v1/devices/{id}/status` (also its will, `offline`).
public struct DeviceStatus: FleetMessage, Hashable {
    public static let messageName = "status"
    public static let maxBytes = 1024
    /// Longest `detail` in bytes.
    public static let maxDetailBytes = 200

    public var v: Int
    public var device: DeviceID
    public var state: DeviceState
    /// The envelope seq this status refers to; 0 when none.
    public var seq: UInt64
    /// Required when `state` is `failed`; on `online` only `rolled_back`; absent otherwise.
    public var reason: ReasonCode?
    /// Optional human text, ≤ 200 bytes, never a secret.
    public var detail: String?
    /// Unix time in seconds (device clock).
    public var ts: Int64

    public init(
        device: DeviceID, state: DeviceState, seq: UInt64 = 0, reason: ReasonCode? = nil, detail: String? = nil,
        ts: Int64
    ) {
        self.v = protocolVersion
        self.device = device
        self.state = state
        self.seq = seq
        self.reason = reason
        self.detail = detail
        self.ts = ts
    }

    public func validationIssues() -> [ValidationIssue] {
        var l = IssueList()
        l.version(v)
        l.seq("seq", seq, allowZero: true)
        switch (state, reason) {
        case (.failed, nil): l.add("reason", "is required when state is failed")
        case (.failed, _), (_, nil), (.online, .rolledBack?): break
        case (let s, let r?): l.add("reason", "'\(r.rawValue)' is not allowed with state \(s.rawValue)")
        }
        if let detail {
            l.length("detail", detail, 0...Self.maxDetailBytes)
            l.noControl("detail", detail)
        }
        l.timestamp("ts", ts)
        return l.issues
    }
}
