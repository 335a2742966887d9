import FleetProtocol
import Foundation

/// The part of the registry one decision reads, as plain values.
///
/// The shell loads it for a ``StateScope`` (one device, the unacknowledged devices, or the whole fleet),
/// ``ProvisioningCore`` decides on it, and the decision's ``StateChange``s are what the shell writes back.
public struct FleetState: Sendable, Hashable {
    /// Enrolled devices by id.
    public var devices: [String: DeviceRecord]
    /// Devices that said hello without being enrolled, by id.
    public var pending: [String: PendingDeviceRecord]
    /// Profiles with their secrets, by name.
    public var profiles: [String: StoredProfile]
    /// The profile name assigned to each group.
    public var groupProfiles: [String: String]
    /// How many pending entries the store holds, also those not loaded in ``pending`` (kept by the
    /// store as a counter, so a hello checks the cap without counting the table).
    public var pendingCount: Int
    /// Hellos of new ids not recorded because the pending table was full.
    public var pendingRefused: Int64

    public init(
        devices: [String: DeviceRecord] = [:], pending: [String: PendingDeviceRecord] = [:],
        profiles: [String: StoredProfile] = [:], groupProfiles: [String: String] = [:], pendingCount: Int? = nil,
        pendingRefused: Int64 = 0
    ) {
        self.devices = devices
        self.pending = pending
        self.profiles = profiles
        self.groupProfiles = groupProfiles
        self.pendingCount = pendingCount ?? pending.count
        self.pendingRefused = pendingRefused
    }

    /// The profile that applies to a device: its own assignment, else its group's, else none.
    public func effectiveProfile(for device: DeviceRecord) -> StoredProfile? {
        guard let name = device.profile ?? device.groupName.flatMap({ groupProfiles[$0] }) else { return nil }
        return profiles[name]
    }

    /// The state after `change` (the audit log is not part of it).
    public mutating func apply(_ change: StateChange) {
        switch change {
        case .saveDevice(let device): devices[device.id] = device
        case .savePending(let entry):
            if pending[entry.id] == nil { pendingCount += 1 }
            pending[entry.id] = entry
        case .deletePending(let id):
            if pending.removeValue(forKey: id) != nil { pendingCount -= 1 }
        case .countRefusedHello: pendingRefused += 1
        case .saveProfile(let profile, _): profiles[profile.name] = profile
        case .deleteProfile(let name): profiles[name] = nil
        case .assignGroup(let group, let profile, _): groupProfiles[group] = profile
        case .appendAudit: break
        }
    }

    /// The part of this state `scope` covers: what a store loads for it.
    public func scoped(to scope: StateScope) -> FleetState {
        switch scope {
        case .fleet:
            return self
        case .unacknowledged:
            return FleetState(
                devices: devices.filter { !$0.value.acknowledged && $0.value.envelope != nil },
                pendingCount: pendingCount,
                pendingRefused: pendingRefused)
        case .stalePending(let before):
            let stale = pending.filter { $0.value.lastSeen < before }.sorted { $0.value.lastSeen < $1.value.lastSeen }
            return FleetState(
                pending: Dictionary(
                    uniqueKeysWithValues: stale.prefix(StateScope.staleBatch).map { ($0.key, $0.value) }),
                pendingCount: pendingCount, pendingRefused: pendingRefused)
        case .device(let id):
            var slice = FleetState(
                pending: pending[id.rawValue].map { [id.rawValue: $0] } ?? [:], pendingCount: pendingCount,
                pendingRefused: pendingRefused)
            if let device = devices[id.rawValue] {
                slice.devices[device.id] = device
                if let group = device.groupName, let profile = groupProfiles[group] {
                    slice.groupProfiles[group] = profile
                }
                if let profile = effectiveProfile(for: device) { slice.profiles[profile.name] = profile }
            }
            return slice
        case .devices(let ids):
            return FleetState(
                devices: devices.filter { ids.contains($0.key) }, pending: pending.filter { ids.contains($0.key) },
                pendingCount: pendingCount, pendingRefused: pendingRefused)
        case .devicePage(let after, let limit, let group):
            let page = sortedDevices.filter { device in
                (after.map { device.id > $0 } ?? true) && (group == nil || device.groupName == group)
            }.prefix(limit)
            return FleetState(
                devices: Dictionary(uniqueKeysWithValues: page.map { ($0.id, $0) }), profiles: profiles,
                groupProfiles: groupProfiles, pendingCount: pendingCount, pendingRefused: pendingRefused)
        case .pendingPage(let after, let limit):
            let page = pending.values.sorted { $0.id < $1.id }.filter { entry in after.map { entry.id > $0 } ?? true }
                .prefix(limit)
            return FleetState(
                pending: Dictionary(uniqueKeysWithValues: page.map { ($0.id, $0) }), pendingCount: pendingCount,
                pendingRefused: pendingRefused)
        }
    }

    /// Every device, by id.
    var sortedDevices: [DeviceRecord] { devices.values.sorted { $0.id < $1.id } }

    /// The devices of `group`, by id.
    func devices(inGroup group: String) -> [DeviceRecord] { sortedDevices.filter { $0.groupName == group } }
}

/// How much of the registry a decision needs loaded.
public enum StateScope: Sendable, Hashable {
    /// One device: its record or pending entry, its group's assignment and the profile that applies to it.
    case device(DeviceID)
    /// The devices whose latest envelope was never acknowledged (no profiles).
    case unacknowledged
    /// Everything: what an operator request may look at.
    case fleet
    /// Pending entries whose last hello is before this time, oldest first, at most ``staleBatch``.
    case stalePending(before: Int64)

    /// How many stale pending entries one expiry transaction removes at most.
    public static let staleBatch = 1000
    /// These enrolled devices and pending entries, by id (no profiles): what an enrollment needs.
    case devices(Set<String>)
    /// At most `limit` enrolled devices with ids after `after` (of `group` when set), by id, with
    /// every profile and group assignment: one page of `status` or of a group push.
    case devicePage(after: String?, limit: Int, group: String?)
    /// At most `limit` pending devices with ids after `after`, by id: one page of `pending`.
    case pendingPage(after: String?, limit: Int)
}

/// One write a decision asks for; the shell applies them in order, in the transaction it loaded the
/// state in.
public enum StateChange: Sendable, Hashable {
    /// Insert or update an enrolled device.
    case saveDevice(DeviceRecord)
    /// Insert or update a pending device.
    case savePending(PendingDeviceRecord)
    case deletePending(id: String)
    /// A hello of a new id was not recorded because the pending table is full.
    case countRefusedHello
    /// Insert or replace a profile (its revision already set); secrets are sealed at rest by the store.
    case saveProfile(StoredProfile, at: Int64)
    case deleteProfile(name: String)
    case assignGroup(String, profile: String, at: Int64)
    case appendAudit(AuditRecord)
}

/// What the engine asks the I/O shell to send, in order.
public enum EngineAction: Sendable, Hashable {
    /// Publish `payload` as the retained config of `device` (QoS 1).
    case publishConfig(device: DeviceID, payload: [UInt8])
    /// Publish an empty retained message on the config topic of `device`, clearing it.
    case clearConfig(device: DeviceID)
    /// Publish an audit event on `P/v1/events` (its ``StateChange/appendAudit(_:)`` is in the same decision).
    case publishEvent(AuditRecord)
    /// Publish an operator reply on `topic`.
    case reply(topic: String, payload: [UInt8])
    /// Create the device's broker account (dynamic security; password derived from its key).
    case registerBrokerAccount(device: DeviceID, publicKey: Data)
    /// Delete the device's broker account.
    case removeBrokerAccount(device: DeviceID)
}

/// The core's answer to one event: what to write, then what to send.
public struct Decision: Sendable, Hashable {
    public var changes: [StateChange]
    public var actions: [EngineAction]

    public init(changes: [StateChange] = [], actions: [EngineAction] = []) {
        self.changes = changes
        self.actions = actions
    }
}

/// What happens to provisiond, as the core sees it.
public enum EngineEvent: Sendable, Hashable {
    /// A validated hello: `device` equals the topic's id, `publicKey` is its 32-byte X25519 key.
    case hello(device: DeviceID, publicKey: Data)
    /// A validated status report (its `device` equals the topic's id).
    case status(DeviceStatus)
    /// A validated status report delivered as a retained message (after a subscribe): considered
    /// only when it answers the device's latest, still unacknowledged envelope.
    case retainedStatus(DeviceStatus)
    /// An operator request payload received on `P/v1/ops/request/{operator}`.
    case operatorRequest(payload: [UInt8], from: String)
    /// The service (re)connected to the broker.
    case connected
    /// Time to forget pending entries whose last hello is before `before`.
    case expirePending(before: Int64)

    /// The registry state deciding on this event needs.
    public var scope: StateScope {
        switch self {
        case .hello(let device, _): .device(device)
        case .status(let report), .retainedStatus(let report): .device(report.device)
        case .operatorRequest(let payload, _): ProvisioningCore.scope(ofRequest: payload)
        case .connected: .unacknowledged
        case .expirePending(let before): .stalePending(before: before)
        }
    }
}
