import Crypto
import FleetProtocol
import Foundation

/// The provisioning decisions as a pure state machine: an ``EngineEvent`` and the ``FleetState`` it
/// needs in, a ``Decision`` (state changes, then messages to send) out.
///
/// No I/O here: no registry, no broker, no clock (the event's time is passed in). The only outside
/// input is the service key, which seals envelopes and opens operator secrets. ``ProvisioningEngine``
/// is the shell that loads the state, runs this and writes the changes back in one transaction, so
/// several provisiond processes sharing one registry never hand out a seq twice.
public struct ProvisioningCore: Sendable {
    let identity: ServiceIdentity
    let topics: TopicTree
    /// Ids that are broker account names of the site (admin, provisiond, hello, operators, monitors):
    /// never enrolled, approved, revoked or recorded as pending, so provisiond never creates or
    /// deletes a broker account with such a name.
    let reservedIDs: Set<String>
    /// Who may run which operation.
    public let roles: OperatorRoles
    /// The pending table's cap and age limit.
    public let pendingLimits: PendingLimits
    /// The site this service serves (`provisiond --site`), nil when it names none: a request for
    /// another site is refused with `wrong_site`.
    public let site: String?

    /// - Parameters:
    ///   - identity: the service key pair that seals envelopes and opens operator secrets.
    ///   - topics: the topic tree, to check operator reply topics.
    ///   - reservedIDs: the site's own broker account names (see ``reservedIDs``).
    ///   - roles: each operator's role; an operator not listed gets the default role.
    ///   - pendingLimits: the pending table's cap and age limit.
    ///   - site: the site served, if named.
    public init(
        identity: ServiceIdentity, topics: TopicTree, reservedIDs: Set<String> = [], roles: OperatorRoles = .init(),
        pendingLimits: PendingLimits = .standard, site: String? = nil
    ) {
        self.identity = identity
        self.topics = topics
        self.reservedIDs = reservedIDs
        self.roles = roles
        self.pendingLimits = pendingLimits
        self.site = site
    }

    /// Refuses `id` when it names one of the site's own broker accounts.
    func requireNotReserved(_ id: DeviceID) throws(OperatorError) {
        if reservedIDs.contains(id.rawValue) {
            throw OperatorError(
                .reservedID,
                "'\(id)' is the name of a site broker account, not a device; it cannot be enrolled or revoked")
        }
    }

    /// Decides what `event` does, given `state` (loaded for ``EngineEvent/scope``) at time `now`.
    ///
    /// Operator requests never throw: a failing request becomes an error reply and changes nothing.
    /// - Throws: for a device event whose envelope cannot be sealed (a stored key that is not X25519).
    public func decide(_ event: EngineEvent, in state: FleetState, now: Int64) throws -> Decision {
        var draft = Draft(state, now: now)
        switch event {
        case .hello(let device, let publicKey): try hello(device, publicKey: publicKey, &draft)
        case .status(let report): status(report, &draft)
        case .retainedStatus(let report): retainedStatus(report, &draft)
        case .operatorRequest(let payload, let operatorName):
            return operatorRequest(payload, from: operatorName, state: state, now: now)
        case .connected: reconcile(&draft)
        case .expirePending(let before):
            for entry in draft.state.pending.values where entry.lastSeen < before { draft.deletePending(entry.id) }
        }
        return draft.decision
    }

    // MARK: - Start

    /// Republishes every envelope that was never acknowledged: a broker killed hard loses the
    /// retained messages written since its last autosave, and the device would wait forever.
    func reconcile(_ draft: inout Draft) {
        for device in draft.state.sortedDevices where !device.acknowledged {
            guard let envelope = device.envelope, let id = try? DeviceID(device.id) else { continue }
            draft.send(.publishConfig(device: id, payload: Array(envelope.utf8)))
        }
    }

    // MARK: - Devices

    func hello(_ id: DeviceID, publicKey: Data, _ draft: inout Draft) throws {
        // A hello for a site account name is never recorded: approving it would touch that account.
        if reservedIDs.contains(id.rawValue) { return }
        let fingerprint = Fingerprint.of(rawPublicKey: Array(publicKey))
        guard let device = draft.state.devices[id.rawValue] else {
            // Bounded: a new id is only counted when the table is full (anyone with the shared hello
            // password can say hello as any id). The store keeps the count, so this reads no table.
            if draft.state.pending[id.rawValue] == nil, draft.state.pendingCount >= pendingLimits.cap {
                draft.countRefusedHello()
                return
            }
            let previous = draft.recordPendingHello(
                id: id.rawValue, publicKey: publicKey, fingerprint: fingerprint,
                staleBefore: pendingLimits.staleBefore(draft.now))
            // One event per new device or new key, not one per retried hello.
            guard previous?.publicKey != publicKey else { return }
            draft.audit(.devicePending, device: id, fingerprint: fingerprint, detail: "not enrolled; nothing sent")
            return
        }
        guard device.publicKey == publicKey else {
            draft.audit(
                .deviceKeyMismatch, device: id, fingerprint: fingerprint,
                detail: "hello key differs from the enrolled key \(device.fingerprint); nothing sent")
            return
        }
        // Nothing new → nothing published. The device already has its latest envelope (reset or wifi)
        // as the retained config, delivered on its subscribe; publishing it again live would make the
        // agent judge it a replay. Lost retained messages are restored by `reconcile` on every
        // (re)connect of the service instead.
        if device.state == .revoked { return }
        guard let profile = draft.state.effectiveProfile(for: device) else { return }
        if device.envelopeAssignment == profile.assignmentTag, device.envelope != nil { return }
        try seal(profile, for: id, reason: "hello", &draft)
    }

    /// A retained status is news only while provisiond waits for the device's answer to its latest
    /// envelope (the device answered while provisiond was away); every other one was handled when it
    /// was live, or is about a device provisiond does not track, and is ignored.
    func retainedStatus(_ report: DeviceStatus, _ draft: inout Draft) {
        guard let device = draft.state.devices[report.device.rawValue], !device.acknowledged,
            Int64(report.seq) == device.lastSeq
        else { return }
        status(report, &draft)
    }

    func status(_ report: DeviceStatus, _ draft: inout Draft) {
        let id = report.device
        let seq = Int64(report.seq)
        if let device = draft.state.devices[id.rawValue],
            device.isReplayOfUnacknowledgedLatest(report.state, reason: report.reason, seq: seq)
        {
            status(DeviceStatus(device: id, state: .applied, seq: report.seq, ts: report.ts), &draft)
            return
        }
        let isOutcome = report.state == .applied || report.state == .failed
        // The outcome of a seq is recorded once: a repeat changes nothing, a contradicting one is ignored.
        if isOutcome, draft.state.devices[id.rawValue]?.hasOutcome(for: seq) == true { return }
        guard let device = draft.recordStatus(report) else { return }
        if isOutcome, seq == device.lastSeq {
            draft.audit(
                report.state == .applied ? .deviceApplied : .deviceFailed, device: id, seq: seq, state: report.state,
                reason: report.reason)
            return
        }
        if device.confirmsRevoke(report.state, seq: seq) {
            // The account goes only now: until the reset is confirmed the device must still be able
            // to log in and receive it.
            draft.send(.clearConfig(device: id))
            draft.send(.removeBrokerAccount(device: id))
            draft.audit(.deviceReset, device: id, seq: seq, state: report.state)
        }
    }

    /// Seals `stored` for `id` under a new seq and publishes it as the retained config.
    func seal(_ stored: StoredProfile, for id: DeviceID, reason: String, _ draft: inout Draft) throws {
        let device = try draft.storeNewEnvelope(for: id, kind: .wifi, assignment: stored.assignmentTag) {
            [identity] seq, key in
            try EnvelopeCrypto.seal(
                profile: stored.profile, seq: seq, device: id, devicePublicKey: key,
                servicePrivateKey: identity.privateKey)
        }
        draft.send(.publishConfig(device: id, payload: Array((device.envelope ?? "").utf8)))
        draft.audit(.configSealed, device: id, seq: device.lastSeq, detail: "profile \(stored.name) (\(reason))")
    }
}
