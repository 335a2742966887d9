import FleetProtocol

/// Bounds on the pending table (Topics.md, "Pending devices"): hellos from ids nobody enrolled come
/// through the shared hello account, so anyone holding its password could otherwise grow it forever.
public struct PendingLimits: Sendable, Hashable {
    /// The most pending entries kept; a hello from a further new id is counted, not recorded.
    public var cap: Int
    /// Seconds after its last hello a pending entry is forgotten.
    public var maxAge: Int64

    /// 1000 entries (a staging site unpacks hundreds of devices at a time), forgotten after a day
    /// without a hello (an agent that waits for approval says hello again at least every few minutes).
    public static let standard = PendingLimits(cap: 1000, maxAge: 86_400)

    public init(cap: Int, maxAge: Int64) {
        self.cap = max(0, cap)
        self.maxAge = max(1, maxAge)
    }

    /// Entries whose last hello is before this time are stale at `now`.
    func staleBefore(_ now: Int64) -> Int64 { now - maxAge }
}

/// Which operator has which ``OperatorRole``, kept by provisiond (its `--operator-role` flags).
///
/// The operator is the last level of the request topic, which the broker lets only that operator's
/// account publish to; an operator not listed has ``defaultRole``.
public struct OperatorRoles: Sendable, Hashable {
    public var roles: [String: OperatorRole]
    public var defaultRole: OperatorRole

    public init(_ roles: [String: OperatorRole] = [:], defaultRole: OperatorRole = .readOnly) {
        self.roles = roles
        self.defaultRole = defaultRole
    }

    public func role(of operatorName: String) -> OperatorRole { roles[operatorName] ?? defaultRole }
}
