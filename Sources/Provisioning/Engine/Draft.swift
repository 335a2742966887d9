import FleetProtocol
import Foundation

/// One decision in the making: the state as it will be after the changes so far, the changes, and
/// what to send. Discarded whole when the decision fails, so a failing request changes nothing.
struct Draft: Sendable {
    private(set) var state: FleetState
    /// The time of the event, Unix seconds; the core has no clock of its own.
    let now: Int64
    private(set) var changes: [StateChange] = []
    private(set) var actions: [EngineAction] = []

    init(_ state: FleetState, now: Int64) {
        self.state = state
        self.now = now
    }

    var decision: Decision { Decision(changes: changes, actions: actions) }

    /// Records `change` and moves the state past it.
    private mutating func record(_ change: StateChange) {
        state.apply(change)
        changes.append(change)
    }

    mutating func save(_ device: DeviceRecord) { record(.saveDevice(device)) }
    mutating func savePending(_ entry: PendingDeviceRecord) { record(.savePending(entry)) }
    mutating func deletePending(_ id: String) { record(.deletePending(id: id)) }
    mutating func countRefusedHello() { record(.countRefusedHello) }
    mutating func saveProfile(_ profile: StoredProfile) { record(.saveProfile(profile, at: now)) }
    mutating func deleteProfile(_ name: String) { record(.deleteProfile(name: name)) }
    mutating func assign(profile: String, group: String) { record(.assignGroup(group, profile: profile, at: now)) }

    mutating func send(_ action: EngineAction) { actions.append(action) }

    /// Records an audit entry and publishes it as an event.
    mutating func audit(
        _ type: AuditEventType, device: DeviceID? = nil, fingerprint: String? = nil, seq: Int64? = nil,
        state: DeviceState? = nil, reason: ReasonCode? = nil, detail: String? = nil, operatorName: String? = nil
    ) {
        // `detail` quotes outside text (a reply_to, a profile name, a device's words): escaped here,
        // once, for the audit table and the event alike.
        let entry = AuditRecord(
            ts: now, type: type, device: device?.rawValue, fingerprint: fingerprint, seq: seq, state: state,
            reason: reason, detail: detail.map(EscapedText.escape), operatorName: operatorName.map(EscapedText.escape))
        self.record(.appendAudit(entry))
        actions.append(.publishEvent(entry))
    }
}
