/// What an operator may do (Topics.md, "Operator roles"). Each role includes everything the roles
/// before it may do.
public enum OperatorRole: String, WireEnum, Comparable {
    /// Reads the fleet: `status`, `pending`, `profile.list` (and watches events on the broker).
    case readOnly = "read-only"
    /// Also puts devices in and out of the fleet: `enroll`, `approve`, `revoke`, `pending.reject`,
    /// `pending.purge`.
    case installer
    /// Also decides what devices get: `profile.add`, `profile.remove`, `assign`, `push`.
    case admin

    /// The least role that may run `op`.
    public static func required(for op: OperatorOp) -> OperatorRole {
        switch op {
        case .status, .pending, .profileList: .readOnly
        case .enroll, .approve, .revoke, .pendingReject, .pendingPurge: .installer
        case .profileAdd, .profileRemove, .assign, .push: .admin
        }
    }

    /// Whether this role may run `op`.
    public func permits(_ op: OperatorOp) -> Bool { self >= Self.required(for: op) }

    private var rank: Int {
        switch self {
        case .readOnly: 0
        case .installer: 1
        case .admin: 2
        }
    }

    public static func < (lhs: OperatorRole, rhs: OperatorRole) -> Bool { lhs.rank < rhs.rank }
}
