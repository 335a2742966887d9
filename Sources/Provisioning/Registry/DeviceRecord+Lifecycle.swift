import FleetProtocol
import Foundation

/// The device lifecycle, in one place: how enrollment, envelopes and status reports move a device's
/// ``DeviceLifecycle`` (Topics.md, "Operator operations": device `state` in `status`).
///
/// Pure: the registry applies these inside its write transactions, the engine asks
/// ``isStaleReplay(_:reason:)`` before recording a report.
extension DeviceRecord {
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
