/// Plaintext of a `reset` envelope.
public struct ResetCommand: FleetMessage, Hashable {
    public static let messageName = "reset"
    public static let maxBytes = Envelope.maxPlaintextBytes
    public static let hasVersionField = false

    /// Why, 1–64 bytes of text, e.g. `revoked`.
    public var reason: String

    public init(reason: String) { self.reason = reason }

    public func validationIssues() -> [ValidationIssue] {
        var l = IssueList()
        l.length("reason", reason, 1...64)
        l.noControl("reason", reason)
        return l.issues
    }
}
