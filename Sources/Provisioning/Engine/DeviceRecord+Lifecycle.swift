import Crypto
import FleetProtocol
import Foundation

/// The device lifecycle, in one place: how hellos, enrollment, approval, envelopes and status reports
/// move a device between pending, ``DeviceLifecycle`` states and revoked (Topics.md, "Operator
/// operations": device `state` in `status`).
///
/// Pure: ``ProvisioningCore`` applies these to the ``FleetState`` its shell loaded; the changes are
/// written back in the transaction that loaded it.
extension DeviceRecord {
    /// A device enrolled for the first time: nothing sent yet.
    static func enrolled(id: String, publicKey: Data, fingerprint: String, group: String?, now: Int64) -> DeviceRecord {
        DeviceRecord(
            id: id, publicKey: publicKey, fingerprint: fingerprint, groupName: group, profile: nil,
            state: .enrolled, lastSeq: 0, envelope: nil, envelopeKind: nil, envelopeAssignment: nil,
            acknowledged: true, statusState: nil, statusSeq: nil, statusReason: nil, statusDetail: nil,
            statusAt: nil, createdAt: now, updatedAt: now)
    }

    /// A revoked device enrolled again starts over with its new key; nothing of the old one is kept.
    mutating func startOver(publicKey: Data, fingerprint: String) {
        self.publicKey = publicKey
        self.fingerprint = fingerprint
        state = .enrolled
        envelope = nil
        envelopeKind = nil
        envelopeAssignment = nil
        acknowledged = true
    }

    /// A new envelope was sealed with `seq`: it is now the device's retained config, unacknowledged.
    /// A reset envelope revokes the device.
    mutating func recordEnvelope(_ json: String, kind: PayloadKind, seq: Int64, assignment: String?, now: Int64) {
        envelope = json
        lastSeq = seq
        envelopeKind = kind
        if kind == .wifi { envelopeAssignment = assignment }
        acknowledged = false
        state = kind == .reset ? .revoked : .sent
        updatedAt = now
    }

    /// Records a status report. It is always kept as the last status, but only a report about the
    /// latest seq moves the lifecycle: an older one does not acknowledge the newer envelope.
    mutating func recordStatus(_ reported: DeviceState, seq: Int64, reason: ReasonCode?, detail: String?, now: Int64) {
        statusState = reported
        statusSeq = seq
        statusReason = reason
        statusDetail = detail
        statusAt = now
        updatedAt = now
        guard seq == lastSeq, seq > 0 else { return }
        if state == .revoked {
            if reported == .reset { acknowledged = true }
            return
        }
        switch reported {
        case .applying: state = .applying
        case .applied:
            state = .applied
            acknowledged = true
        case .failed:
            state = .failed
            acknowledged = true
        case .online, .offline, .reset: break
        }
    }

    /// True for `failed`/`replay` on a device that applied its envelope: a reconnecting agent saw the
    /// retained envelope it already applied, which is not a failure.
    func isStaleReplay(_ reported: DeviceState, reason: ReasonCode?) -> Bool {
        reported == .failed && reason == .replay && state == .applied
    }

    /// True once a reset report confirms the revoke: the broker account may go and the retained
    /// config is cleared.
    func confirmsRevoke(_ reported: DeviceState, seq: Int64) -> Bool {
        reported == .reset && state == .revoked && seq == lastSeq
    }
}

extension PendingDeviceRecord {
    /// How many distinct keys a pending entry remembers; more are not recorded (approval is refused anyway).
    static let maxSeenKeys = 8

    /// `entry` (nil for a first hello) after a hello from an id that is not enrolled. The latest key is
    /// the one shown, and every distinct key is remembered (up to ``maxSeenKeys``) so that an approval
    /// can see conflicts.
    static func afterHello(
        _ entry: PendingDeviceRecord?, id: String, publicKey: Data, fingerprint: String, now: Int64
    ) -> PendingDeviceRecord {
        var record =
            entry
            ?? PendingDeviceRecord(
                id: id, publicKey: publicKey, fingerprint: fingerprint, firstSeen: now, lastSeen: now,
                helloCount: 0, seenFingerprints: "")
        var seen = record.seenFingerprintList
        if !seen.contains(fingerprint), seen.count < maxSeenKeys {
            seen.append(fingerprint)
            record.seenFingerprints = seen.joined(separator: ",")
        }
        record.publicKey = publicKey
        record.fingerprint = fingerprint
        record.lastSeen = now
        record.helloCount += 1
        return record
    }
}

extension Draft {
    /// Records a hello from an id that is not enrolled; returns the entry before it (nil for the first).
    /// An entry whose last hello is before `staleBefore` is past the age limit (not yet swept): the
    /// hello starts a new one.
    @discardableResult
    mutating func recordPendingHello(
        id: String, publicKey: Data, fingerprint: String, staleBefore: Int64 = .min
    ) -> PendingDeviceRecord? {
        let before = state.pending[id].flatMap { $0.lastSeen < staleBefore ? nil : $0 }
        savePending(
            .afterHello(before, id: id, publicKey: publicKey, fingerprint: fingerprint, now: now))
        return before
    }

    /// Enrolls a device. Idempotent for the same key (updates the group when given); a revoked device
    /// starts over with its new key. Removes a pending entry of the same id.
    /// - Returns: the record before (nil for a new device) and after.
    /// - Throws: `key_conflict` when the id is enrolled (not revoked) with another key.
    @discardableResult
    mutating func enroll(id: String, publicKey: Data, fingerprint: String, group: String?) throws(OperatorError)
        -> (before: DeviceRecord?, device: DeviceRecord)
    {
        let before = state.devices[id]
        let device: DeviceRecord
        if var existing = before {
            if existing.state == .revoked {
                existing.startOver(publicKey: publicKey, fingerprint: fingerprint)
            } else if existing.publicKey != publicKey {
                throw OperatorError(
                    .keyConflict,
                    "device '\(id)' is enrolled with another key (\(existing.fingerprint)); revoke it first")
            }
            if let group { existing.groupName = group }
            existing.updatedAt = now
            device = existing
        } else {
            device = .enrolled(id: id, publicKey: publicKey, fingerprint: fingerprint, group: group, now: now)
        }
        save(device)
        if state.pending[id] != nil { deletePending(id) }
        return (before, device)
    }

    /// Enrolls a pending device with the key it announced, if that key has `expectedFingerprint` (the
    /// one the operator compared with the device's label). Check and enrollment see the same state, so
    /// a hello with another key cannot slip in between.
    /// - Throws: `not_pending` when no hello from that id is on record; `conflicting_keys` when the id
    ///   announced more than one distinct key; `fingerprint_mismatch` when the pending key has another
    ///   fingerprint. Nothing changes in all these cases.
    @discardableResult
    mutating func approve(id: String, expectedFingerprint: String, group: String?) throws(OperatorError)
        -> (before: DeviceRecord?, device: DeviceRecord)
    {
        guard let pending = state.pending[id] else { throw OperatorError(.notPending, "no pending device '\(id)'") }
        let seen = pending.seenFingerprintList
        if seen.count > 1 {
            throw OperatorError(
                .conflictingKeys,
                "conflicting keys seen for \(id): \(seen.joined(separator: ", ")); another party also says hello "
                    + "as this device. Re-verify the device (its label) and enroll it by its bootstrap URI")
        }
        guard pending.fingerprint == expectedFingerprint.lowercased() else {
            throw OperatorError(
                .fingerprintMismatch,
                "device '\(id)' announced fingerprint \(pending.fingerprint), not \(expectedFingerprint)")
        }
        return try enroll(id: id, publicKey: pending.publicKey, fingerprint: pending.fingerprint, group: group)
    }

    /// Allocates the next seq for `id` and records `envelope(seq, key)` as its retained config.
    mutating func storeNewEnvelope(
        for id: DeviceID, kind: PayloadKind, assignment: String?,
        _ envelope: (UInt64, Curve25519.KeyAgreement.PublicKey) throws -> Envelope
    ) throws -> DeviceRecord {
        var device = try requireDevice(id.rawValue)
        let seq = device.lastSeq + 1
        let key = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: device.publicKey)
        let json = try MessageCodec.encodeString(try envelope(UInt64(seq), key))
        device.recordEnvelope(json, kind: kind, seq: seq, assignment: assignment, now: now)
        save(device)
        return device
    }

    /// Records a status report unless it is a stale replay; returns the device after it, or nil when
    /// the report changed nothing (unknown device, stale replay).
    @discardableResult
    mutating func recordStatus(_ report: DeviceStatus) -> DeviceRecord? {
        guard var device = state.devices[report.device.rawValue],
            !device.isStaleReplay(report.state, reason: report.reason)
        else { return nil }
        device.recordStatus(
            report.state, seq: Int64(report.seq), reason: report.reason, detail: report.detail, now: now)
        save(device)
        return device
    }

    /// Removes a profile that nothing (no device that is not revoked, no group) is assigned to.
    /// - Throws: `unknown_profile`, or `profile_in_use` naming who uses it.
    mutating func removeProfile(_ name: String) throws(OperatorError) {
        guard state.profiles[name] != nil else { throw OperatorError(.unknownProfile, "no profile '\(name)'") }
        let devices = state.sortedDevices.filter { $0.profile == name && $0.state != .revoked }.map(\.id)
        let groups = state.groupProfiles.filter { $0.value == name }.map { $0.key }.sorted()
        if !devices.isEmpty || !groups.isEmpty {
            let users = (devices.map { "device \($0)" } + groups.map { "group \($0)" }).joined(separator: ", ")
            throw OperatorError(.profileInUse, "profile '\(name)' is assigned to \(users); reassign them first")
        }
        deleteProfile(name)
    }

    /// Sets a device's own profile assignment (it wins over its group's).
    mutating func assign(profile: String, device id: String) throws(OperatorError) {
        guard state.profiles[profile] != nil else { throw OperatorError(.unknownProfile, "no profile '\(profile)'") }
        var device = try requireDevice(id)
        device.profile = profile
        device.updatedAt = now
        save(device)
    }

    /// Adds or replaces a profile; a replacement gets the next revision.
    @discardableResult
    mutating func saveProfile(name: String, profile: WiFiProfile) -> StoredProfile {
        let saved = StoredProfile(
            name: name, profile: profile, revision: (state.profiles[name]?.revision ?? 0) + 1)
        saveProfile(saved)
        return saved
    }

    /// The device, or `unknown_device`.
    func requireDevice(_ id: String) throws(OperatorError) -> DeviceRecord {
        guard let device = state.devices[id] else { throw OperatorError(.unknownDevice, "no device '\(id)'") }
        return device
    }
}
