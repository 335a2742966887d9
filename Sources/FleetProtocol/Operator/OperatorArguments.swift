// The `args` and `result` objects of each operator operation (Topics.md, "Operator operations").
//
// Device ids are ``DeviceID``s, so an argument with an invalid id does not decode
// (`ProtocolError` code `.invalidIdentifier`, which provisiond answers with `invalid_device_id`).

/// An operation without arguments (`pending`, `profile.list`, `status`).
public struct NoArguments: Codable, Sendable, Hashable {
    public init() {}
}

/// Which page of a list that grows with the fleet to return (`status`, `pending`, a group `push`):
/// the entries after device id `after` (from the start when absent), ordered by device id, at most
/// `limit` of them (``maxLimit`` when absent or larger). A result with `next` has more: ask again
/// with `after` set to it.
public struct PageArgs: Codable, Sendable, Hashable {
    public var after: DeviceID?
    public var limit: Int?

    /// The most entries of one page: 500 rows of the largest kind (a status row with 64-character
    /// names, ~400 bytes) stay well within the 262,144-byte reply limit.
    public static let maxLimit = 500

    public init(after: DeviceID? = nil, limit: Int? = nil) {
        self.after = after
        self.limit = limit
    }

    /// `limit` within 1...``maxLimit``.
    public var pageLimit: Int { Swift.min(Swift.max(limit ?? Self.maxLimit, 1), Self.maxLimit) }
}

// MARK: - enroll

public struct EnrollEntry: Codable, Sendable, Hashable {
    /// The bootstrap URI from the device's label (`FB1:…;;`), parsed by the service.
    public var uri: String
    public var group: String?
    public init(uri: String, group: String?) {
        self.uri = uri
        self.group = group
    }
}

public struct EnrollArgs: Codable, Sendable, Hashable {
    public var devices: [EnrollEntry]
    public init(devices: [EnrollEntry]) { self.devices = devices }
}

/// An enrolled device: the result of `approve`, an entry of the result of `enroll`.
public struct DeviceSummary: Codable, Sendable, Hashable {
    public var device: DeviceID
    public var fingerprint: String
    public var group: String?
    public init(device: DeviceID, fingerprint: String, group: String?) {
        self.device = device
        self.fingerprint = fingerprint
        self.group = group
    }
}

public struct EnrollResult: Codable, Sendable, Hashable {
    public var enrolled: [DeviceSummary]
    public init(enrolled: [DeviceSummary]) { self.enrolled = enrolled }
}

// MARK: - pending / approve

public struct PendingEntry: Codable, Sendable, Hashable {
    public var device: DeviceID
    public var fingerprint: String
    public var firstSeen: Int64
    public var lastSeen: Int64
    public var hellos: Int64
    /// Fingerprints of every distinct key announced for this id (at most 8), oldest first. More
    /// than one: somebody else also says hello as this id, and `approve` is refused.
    public var keysSeen: [String]?
    enum CodingKeys: String, CodingKey {
        case device, fingerprint, hellos
        case firstSeen = "first_seen"
        case lastSeen = "last_seen"
        case keysSeen = "keys_seen"
    }
    public init(
        device: DeviceID, fingerprint: String, firstSeen: Int64, lastSeen: Int64, hellos: Int64,
        keysSeen: [String]? = nil
    ) {
        self.device = device
        self.fingerprint = fingerprint
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.hellos = hellos
        self.keysSeen = keysSeen
    }
}

public struct PendingResult: Codable, Sendable, Hashable {
    public var pending: [PendingEntry]
    /// Set when more entries follow: the `after` of the next page.
    public var next: DeviceID?
    public init(pending: [PendingEntry], next: DeviceID? = nil) {
        self.pending = pending
        self.next = next
    }
}

/// The result of `pending.reject`: the pending entry that was removed.
public struct RejectResult: Codable, Sendable, Hashable {
    public var device: DeviceID
    public var fingerprint: String
    public init(device: DeviceID, fingerprint: String) {
        self.device = device
        self.fingerprint = fingerprint
    }
}

/// The arguments of `pending.purge`: every pending entry, or only those not seen for `olderThan`
/// seconds.
public struct PurgeArgs: Codable, Sendable, Hashable {
    public var olderThan: Int64?
    enum CodingKeys: String, CodingKey { case olderThan = "older_than" }
    public init(olderThan: Int64? = nil) { self.olderThan = olderThan }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        olderThan = try c.decodeIfPresent(Int64.self, forKey: .olderThan)
        if let olderThan, olderThan < 0 {
            throw ProtocolError(
                .invalidField, "older_than must be 0 or more seconds",
                issues: [ValidationIssue(field: "older_than", message: "is negative")])
        }
    }
}

public struct PurgeResult: Codable, Sendable, Hashable {
    /// How many pending entries were removed.
    public var purged: Int
    public init(purged: Int) { self.purged = purged }
}

public struct ApproveArgs: Codable, Sendable, Hashable {
    public var device: DeviceID
    public var group: String?
    /// Required: the fingerprint the operator read on the device's label. The approval fails with
    /// `fingerprint_mismatch` unless the pending key has it.
    public var fingerprint: String
    public init(device: DeviceID, group: String?, fingerprint: String) {
        self.device = device
        self.group = group
        self.fingerprint = fingerprint
    }

    enum CodingKeys: String, CodingKey { case device, group, fingerprint }

    /// The fingerprint as typed by an operator, lowercased, or nil unless it is `xxxx-xxxx-xxxx-xxxx`.
    public static func normalizedFingerprint(_ typed: String) -> String? {
        let lowered = typed.lowercased()
        return Fingerprint.isWellFormed(lowered) ? lowered : nil
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        device = try c.decode(DeviceID.self, forKey: .device)
        group = try c.decodeIfPresent(String.self, forKey: .group)
        guard let fingerprint = try c.decodeIfPresent(String.self, forKey: .fingerprint) else {
            throw ProtocolError(
                .missingField,
                "approve needs 'fingerprint': the one on the device's label, compared with `fleetctl pending`",
                issues: [ValidationIssue(field: "fingerprint", message: "is missing")])
        }
        self.fingerprint = fingerprint
    }
}

// MARK: - profiles

public struct ProfileAddArgs: Codable, Sendable, Hashable {
    public var name: String
    /// The Wi-Fi profile JSON (Topics.md "Wi-Fi profile"), sealed to the service public key with
    /// OperatorSecretBox under the request's correlation id.
    public var sealed: SealedSecret
    public init(name: String, sealed: SealedSecret) {
        self.name = name
        self.sealed = sealed
    }
}

public struct ProfileAddResult: Codable, Sendable, Hashable {
    public var name: String
    public var revision: Int64
    public init(name: String, revision: Int64) {
        self.name = name
        self.revision = revision
    }
}

/// What an operator may see of a profile: everything but the secrets.
public struct ProfileInfo: Codable, Sendable, Hashable {
    public var name: String
    public var ssid: String
    public var encryption: WiFiEncryption
    public var hidden: Bool
    public var revision: Int64
    public init(name: String, ssid: String, encryption: WiFiEncryption, hidden: Bool, revision: Int64) {
        self.name = name
        self.ssid = ssid
        self.encryption = encryption
        self.hidden = hidden
        self.revision = revision
    }
}

public struct ProfileListResult: Codable, Sendable, Hashable {
    public var profiles: [ProfileInfo]
    public init(profiles: [ProfileInfo]) { self.profiles = profiles }
}

/// The arguments and result of `profile.remove`.
public struct NameArgs: Codable, Sendable, Hashable {
    public var name: String
    public init(name: String) { self.name = name }
}

// MARK: - assign / push / revoke

/// Targets: a list of devices or one group (exactly one of the two).
public struct AssignArgs: Codable, Sendable, Hashable {
    public var profile: String
    public var devices: [DeviceID]?
    public var group: String?
    public init(profile: String, devices: [DeviceID]?, group: String?) {
        self.profile = profile
        self.devices = devices
        self.group = group
    }
}

public struct AssignResult: Codable, Sendable, Hashable {
    public var profile: String
    /// The devices assigned, for a device list (bounded by the request's size); absent for a group,
    /// which may hold any number of devices (its reply must stay within the reply limit).
    public var devices: [DeviceID]?
    public var group: String?
    /// How many devices the assignment covers now (for a group: its devices at this moment).
    public var count: Int
    public init(profile: String, devices: [DeviceID]?, group: String?, count: Int) {
        self.profile = profile
        self.devices = devices
        self.group = group
        self.count = count
    }
}

/// Targets: a list of devices or one group (exactly one of the two).
///
/// A group is pushed a page at a time (``PageArgs``): `after` and `limit` pick the devices of the
/// group, by id, that this request seals for.
public struct PushArgs: Codable, Sendable, Hashable {
    public var devices: [DeviceID]?
    public var group: String?
    public var after: DeviceID?
    public var limit: Int?
    public init(devices: [DeviceID]?, group: String?, after: DeviceID? = nil, limit: Int? = nil) {
        self.devices = devices
        self.group = group
        self.after = after
        self.limit = limit
    }

    public var page: PageArgs { PageArgs(after: after, limit: limit) }
}

public struct PushedDevice: Codable, Sendable, Hashable {
    public var device: DeviceID
    public var seq: Int64
    public var profile: String
    public init(device: DeviceID, seq: Int64, profile: String) {
        self.device = device
        self.seq = seq
        self.profile = profile
    }
}

public struct PushResult: Codable, Sendable, Hashable {
    public var pushed: [PushedDevice]
    /// Set when the group has more devices: the `after` of the next page.
    public var next: DeviceID?
    public init(pushed: [PushedDevice], next: DeviceID? = nil) {
        self.pushed = pushed
        self.next = next
    }
}

public struct DeviceArgs: Codable, Sendable, Hashable {
    public var device: DeviceID
    public init(device: DeviceID) { self.device = device }
}

public struct RevokeResult: Codable, Sendable, Hashable {
    public var device: DeviceID
    /// The seq of the reset envelope.
    public var seq: Int64
    public init(device: DeviceID, seq: Int64) {
        self.device = device
        self.seq = seq
    }
}

// MARK: - status

public struct DeviceStatusRow: Codable, Sendable, Hashable {
    public var device: DeviceID
    public var fingerprint: String
    public var group: String?
    public var profile: String?
    public var state: DeviceLifecycle
    public var seq: Int64
    /// The state of the device's last status report, whatever its seq.
    public var lastStatus: DeviceState?
    public var reason: ReasonCode?
    public var statusAt: Int64?
    enum CodingKeys: String, CodingKey {
        case device, fingerprint, group, profile, state, seq, reason
        case lastStatus = "last_status"
        case statusAt = "status_at"
    }
    public init(
        device: DeviceID, fingerprint: String, group: String?, profile: String?, state: DeviceLifecycle,
        seq: Int64, lastStatus: DeviceState?, reason: ReasonCode?, statusAt: Int64?
    ) {
        self.device = device
        self.fingerprint = fingerprint
        self.group = group
        self.profile = profile
        self.state = state
        self.seq = seq
        self.lastStatus = lastStatus
        self.reason = reason
        self.statusAt = statusAt
    }
}

public struct StatusResult: Codable, Sendable, Hashable {
    public var devices: [DeviceStatusRow]
    /// How many devices are pending.
    public var pending: Int
    /// The most pending devices provisiond keeps; hellos of further new ids are not recorded.
    public var pendingCap: Int?
    /// Seconds after its last hello a pending device is forgotten.
    public var pendingMaxAge: Int64?
    /// Hellos of new ids not recorded because the pending table was full, since the registry was created.
    public var pendingRefused: Int64?
    /// The requesting operator's role.
    public var role: OperatorRole?
    /// The site this provisiond serves (`provisiond --site`), absent when it names none.
    public var site: String?
    /// Set when more devices follow: the `after` of the next page.
    public var next: DeviceID?

    enum CodingKeys: String, CodingKey {
        case devices, pending, role, next, site
        case pendingCap = "pending_cap"
        case pendingMaxAge = "pending_max_age"
        case pendingRefused = "pending_refused"
    }

    public init(
        devices: [DeviceStatusRow], pending: Int, pendingCap: Int? = nil, pendingMaxAge: Int64? = nil,
        pendingRefused: Int64? = nil, role: OperatorRole? = nil, site: String? = nil, next: DeviceID? = nil
    ) {
        self.devices = devices
        self.pending = pending
        self.pendingCap = pendingCap
        self.pendingMaxAge = pendingMaxAge
        self.pendingRefused = pendingRefused
        self.role = role
        self.site = site
        self.next = next
    }
}
