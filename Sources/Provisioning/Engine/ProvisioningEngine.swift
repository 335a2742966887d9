import FleetProtocol
import Foundation

/// Where the engine's state lives: loads what a decision needs and writes back what it changed, in
/// one transaction. ``Registry`` is the real one; tests use an in-memory double.
public protocol EngineStore: Sendable {
    /// Loads `scope`, runs `decide` on it and applies the ``StateChange``s of its decision, all in one
    /// transaction. Nothing is written when `decide` throws; its error is rethrown as it is.
    func transact(_ scope: StateScope, _ decide: @escaping @Sendable (FleetState) throws -> Decision) async throws
        -> Decision

    /// Loads each of `scopes`, runs `decide(index, state)` on it and applies the changes of every
    /// decision that did not throw, all in one transaction (a group commit). Decisions on the same
    /// scope run in order, each on the state its predecessors left. The result of each index is its
    /// decision or `decide`'s error for it.
    /// - Throws: a store failure, after which nothing of the batch is written.
    func transact(
        batch scopes: [StateScope], _ decide: @escaping @Sendable (Int, FleetState) throws -> Decision
    ) async throws -> [Result<Decision, any Error>]
}

extension EngineStore {
    /// One transaction per scope, each failing on its own: for stores without group commits.
    public func transact(
        batch scopes: [StateScope], _ decide: @escaping @Sendable (Int, FleetState) throws -> Decision
    ) async throws -> [Result<Decision, any Error>] {
        var results: [Result<Decision, any Error>] = []
        for (index, scope) in scopes.enumerated() {
            do {
                results.append(.success(try await transact(scope) { try decide(index, $0) }))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }
}

/// The engine's thin shell: for each event, the state it needs from the store, the pure
/// ``ProvisioningCore``'s decision on it, its changes persisted, and the messages to send handed to
/// the caller (``ProvisioningService`` publishes them).
public struct ProvisioningEngine: Sendable {
    public let store: any EngineStore
    public let core: ProvisioningCore
    private let now: @Sendable () -> Int64
    private let answered = AnsweredRequests()

    /// - Parameters:
    ///   - identity: the service key pair that seals envelopes and opens operator secrets.
    ///   - topics: the topic tree, to check operator reply topics.
    ///   - reservedIDs: the site's own broker account names, never treated as device ids.
    ///   - roles: each operator's role; an operator not listed gets the default role.
    ///   - pendingLimits: the pending table's cap and age limit.
    ///   - site: the site served (`provisiond --site`), if named.
    ///   - now: the clock, Unix seconds; injected for tests.
    public init(
        store: any EngineStore, identity: ServiceIdentity, topics: TopicTree, reservedIDs: Set<String> = [],
        roles: OperatorRoles = .init(), pendingLimits: PendingLimits = .standard, site: String? = nil,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.store = store
        self.core = ProvisioningCore(
            identity: identity, topics: topics, reservedIDs: reservedIDs, roles: roles, pendingLimits: pendingLimits,
            site: site)
        self.now = now
    }

    /// Decides on several events and persists the decisions in one group commit; returns what to
    /// send for each event, in order, or why it could not be decided.
    ///
    /// Meant for device events (hellos, statuses), which touch one device each: decisions for
    /// different devices are independent, so the store may run them on several cores. An operator
    /// request in a batch is answered as ``handle(_:)`` answers it.
    /// - Throws: a store failure, after which nothing of the batch is written.
    public func handle(batch events: [EngineEvent]) async throws -> [Result<[EngineAction], any Error>] {
        let t = now()
        let results: [Result<Decision, any Error>]
        do {
            results = try await store.transact(batch: events.map(\.scope)) { [core] index, state in
                try core.decide(events[index], in: state, now: t)
            }
        } catch {
            // The whole group failed: requests still get their error reply.
            return events.map { event in
                guard case .operatorRequest(let payload, let operatorName) = event else { return .failure(error) }
                return .success(core.failureReply(to: payload, from: operatorName, error))
            }
        }
        return zip(events, results).map { event, result in
            switch result {
            case .success(let decision): return .success(decision.actions)
            case .failure(let error):
                guard case .operatorRequest(let payload, let operatorName) = event else { return .failure(error) }
                return .success(core.failureReply(to: payload, from: operatorName, error))
            }
        }
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
    ///
    /// A copy of an operator request that wrote something (same operator, same id) is answered with
    /// the first one's replies and not run again (``AnsweredRequests``).
    public func handle(_ event: EngineEvent) async throws -> [EngineAction] {
        guard case .operatorRequest(let payload, let operatorName) = event else {
            return try await decide(event).actions
        }
        // Without a usable id nobody could read an answer: nothing to send (the caller logs that).
        guard let key = core.requestKey(payload, from: operatorName) else { return [] }
        if let copy = await answered.begin(key) { return copy }
        let decision: Decision
        do {
            decision = try await decide(event)
        } catch {
            await answered.finish(key, wrote: false, replies: [])
            return core.failureReply(to: payload, from: operatorName, error)
        }
        let replies = decision.actions.filter { if case .reply = $0 { true } else { false } }
        await answered.finish(key, wrote: !decision.changes.isEmpty, replies: replies)
        return decision.actions
    }

    private func decide(_ event: EngineEvent) async throws -> Decision {
        let t = now()
        return try await store.transact(event.scope) { [core] state in
            try core.decide(event, in: state, now: t)
        }
    }
}
