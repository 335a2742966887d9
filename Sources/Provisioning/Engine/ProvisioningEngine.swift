import FleetProtocol
import Foundation

/// Where the engine's state lives: loads what a decision needs and writes back what it changed, in
/// one transaction. ``Registry`` is the real one; tests use an in-memory double.
public protocol EngineStore: Sendable {
    /// Loads `scope`, runs `decide` on it and applies the ``StateChange``s of its decision, all in one
    /// transaction. Nothing is written when `decide` throws; its error is rethrown as it is.
    func transact(_ scope: StateScope, _ decide: @escaping @Sendable (FleetState) throws -> Decision) async throws
        -> Decision
}

/// The engine's thin shell: for each event, the state it needs from the store, the pure
/// ``ProvisioningCore``'s decision on it, its changes persisted, and the messages to send handed to
/// the caller (``ProvisioningService`` publishes them).
public struct ProvisioningEngine: Sendable {
    public let store: any EngineStore
    public let core: ProvisioningCore
    private let now: @Sendable () -> Int64

    /// - Parameters:
    ///   - identity: the service key pair that seals envelopes and opens operator secrets.
    ///   - topics: the topic tree, to check operator reply topics.
    ///   - reservedIDs: the site's own broker account names, never treated as device ids.
    ///   - roles: each operator's role; an operator not listed gets the default role.
    ///   - pendingLimits: the pending table's cap and age limit.
    ///   - now: the clock, Unix seconds; injected for tests.
    public init(
        store: any EngineStore, identity: ServiceIdentity, topics: TopicTree, reservedIDs: Set<String> = [],
        roles: OperatorRoles = .init(), pendingLimits: PendingLimits = .standard,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.store = store
        self.core = ProvisioningCore(
            identity: identity, topics: topics, reservedIDs: reservedIDs, roles: roles, pendingLimits: pendingLimits)
        self.now = now
    }

    /// Forgets pending entries past the age limit, at most ``StateScope/staleBatch`` per call.
    /// - Returns: how many were removed.
    public func expireStalePending() async throws -> Int {
        let event = EngineEvent.expirePending(before: core.pendingLimits.staleBefore(now()))
        let decision = try await store.transact(event.scope) { [core, now] state in
            try core.decide(event, in: state, now: now())
        }
        return decision.changes.count { if case .deletePending = $0 { true } else { false } }
    }

    /// Decides on `event` and persists the decision; returns what to send, in order.
    ///
    /// An operator request is always answered when it has a usable id: a store failure becomes an
    /// error reply. Returns no action for a request without one (the caller logs that).
    /// - Throws: a store failure, or a device event that could not be decided.
    public func handle(_ event: EngineEvent) async throws -> [EngineAction] {
        let t = now()
        do {
            return try await store.transact(event.scope) { [core] state in
                try core.decide(event, in: state, now: t)
            }.actions
        } catch {
            guard case .operatorRequest(let payload, let operatorName) = event else { throw error }
            return core.failureReply(to: payload, from: operatorName, error)
        }
    }
}
