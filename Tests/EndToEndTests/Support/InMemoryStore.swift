import Provisioning
import Synchronization

/// The registry's test double: an ``EngineStore`` over one in-memory ``FleetState`` and audit log.
///
/// Like the registry, it hands each decision only the slice of state its scope covers, and a decision
/// that throws changes nothing.
final class InMemoryStore: EngineStore {
    private struct Contents {
        var state = FleetState()
        var auditLog: [AuditRecord] = []
    }

    private let contents = Mutex(Contents())

    init(_ state: FleetState = FleetState()) {
        contents.withLock { $0.state = state }
    }

    /// Everything stored.
    var state: FleetState { contents.withLock { $0.state } }
    /// The audit entries in the order they were appended.
    var auditLog: [AuditRecord] { contents.withLock { $0.auditLog } }

    func transact(_ scope: StateScope, _ decide: @escaping @Sendable (FleetState) throws -> Decision) async throws
        -> Decision
    {
        try contents.withLock { contents in
            let decision = try decide(contents.state.scoped(to: scope))
            for change in decision.changes {
                contents.state.apply(change)
                if case .appendAudit(let record) = change { contents.auditLog.append(record) }
            }
            return decision
        }
    }
}
