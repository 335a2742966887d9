import FleetProtocol
import Foundation

/// The operator operations on `P/v1/ops/request/{operator}`, their arguments and results (Topics.md,
/// "Operator operations"). Shared by fleetctl (client) and provisiond (server) so both agree on
/// field names.
public enum OperatorOp: String, Codable, Sendable, CaseIterable {
    case enroll
    case pending
    case approve
    case profileAdd = "profile.add"
    case profileList = "profile.list"
    case profileRemove = "profile.remove"
    case assign
    case push
    case status
    case revoke
}

/// Stable error codes of operator replies.
public enum OperatorErrorCode: String, Codable, Sendable, Hashable {
    case badRequest = "bad_request"
    case unknownOp = "unknown_op"
    case unknownDevice = "unknown_device"
    case unknownProfile = "unknown_profile"
    case invalidProfile = "invalid_profile"
    case invalidURI = "invalid_uri"
    case invalidDeviceID = "invalid_device_id"
    case keyConflict = "key_conflict"
    case notPending = "not_pending"
    case fingerprintMismatch = "fingerprint_mismatch"
    case conflictingKeys = "conflicting_keys"
    case replyToMismatch = "reply_to_mismatch"
    case profileInUse = "profile_in_use"
    case noProfileAssigned = "no_profile_assigned"
    case revoked = "revoked"
    case sealedSecret = "sealed_secret"
    case internalError = "internal"
}

/// The error object of a failed reply.
public struct OpsError: Codable, Sendable, Hashable, Error, CustomStringConvertible {
    public var code: String
    public var message: String
    public init(code: OperatorErrorCode, message: String) {
        self.code = code.rawValue
        self.message = message
    }
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(code): \(message)" }
}

/// A request as published on `P/v1/ops/request/{operator}`; `Args` is the op's argument object.
public struct OperatorRequestMessage<Args: Codable & Sendable>: Codable, Sendable {
    public var v: Int
    public var id: String
    public var op: String
    public var replyTo: String
    public var args: Args

    enum CodingKeys: String, CodingKey {
        case v, id, op, args
        case replyTo = "reply_to"
    }

    public init(id: String, op: OperatorOp, replyTo: String, args: Args) {
        self.v = 1
        self.id = id
        self.op = op.rawValue
        self.replyTo = replyTo
        self.args = args
    }
}

/// The fields every request has, decoded before the op's own arguments.
public struct OperatorRequestHeader: Codable, Sendable {
    public var v: Int
    public var id: String
    public var op: String
    public var replyTo: String
    enum CodingKeys: String, CodingKey {
        case v, id, op
        case replyTo = "reply_to"
    }
}

/// A reply on the request's `reply_to` topic.
public struct OperatorReplyMessage<Result: Codable & Sendable>: Codable, Sendable {
    public var v: Int
    public var id: String
    public var ok: Bool
    public var result: Result?
    public var error: OpsError?

    public init(id: String, result: Result) {
        self.v = 1
        self.id = id
        self.ok = true
        self.result = result
        self.error = nil
    }

    public init(id: String, error: OpsError) {
        self.v = 1
        self.id = id
        self.ok = false
        self.result = nil
        self.error = error
    }
}

/// An op without arguments or result.
public struct NoArguments: Codable, Sendable, Hashable {
    public init() {}
}

// MARK: - enroll

public struct EnrollEntry: Codable, Sendable, Hashable {
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

public struct DeviceSummary: Codable, Sendable, Hashable {
    public var device: String
    public var fingerprint: String
    public var group: String?
    public init(device: String, fingerprint: String, group: String?) {
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
    public var device: String
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
        device: String, fingerprint: String, firstSeen: Int64, lastSeen: Int64, hellos: Int64,
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
    public init(pending: [PendingEntry]) { self.pending = pending }
}

public struct ApproveArgs: Codable, Sendable, Hashable {
    public var device: String
    public var group: String?
    /// Required: the fingerprint the operator read on the device's label. The approval fails with
    /// `fingerprint_mismatch` unless the pending key has it.
    public var fingerprint: String
    public init(device: String, group: String?, fingerprint: String) {
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
        device = try c.decode(String.self, forKey: .device)
        group = try c.decodeIfPresent(String.self, forKey: .group)
        guard let fingerprint = try c.decodeIfPresent(String.self, forKey: .fingerprint) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: [CodingKeys.fingerprint],
                    debugDescription:
                        "approve needs 'fingerprint': the one on the device's label, compared with `fleetctl pending`"))
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

public struct ProfileInfo: Codable, Sendable, Hashable {
    public var name: String
    public var ssid: String
    public var encryption: String
    public var hidden: Bool
    public var revision: Int64
    public init(name: String, ssid: String, encryption: String, hidden: Bool, revision: Int64) {
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

public struct NameArgs: Codable, Sendable, Hashable {
    public var name: String
    public init(name: String) { self.name = name }
}

// MARK: - assign / push / revoke

/// Targets: a list of devices or one group (exactly one of the two).
public struct AssignArgs: Codable, Sendable, Hashable {
    public var profile: String
    public var devices: [String]?
    public var group: String?
    public init(profile: String, devices: [String]?, group: String?) {
        self.profile = profile
        self.devices = devices
        self.group = group
    }
}

public struct AssignResult: Codable, Sendable, Hashable {
    public var profile: String
    public var devices: [String]
    public var group: String?
    public init(profile: String, devices: [String], group: String?) {
        self.profile = profile
        self.devices = devices
        self.group = group
    }
}

public struct PushArgs: Codable, Sendable, Hashable {
    public var devices: [String]?
    public var group: String?
    public init(devices: [String]?, group: String?) {
        self.devices = devices
        self.group = group
    }
}

public struct PushedDevice: Codable, Sendable, Hashable {
    public var device: String
    public var seq: Int64
    public var profile: String
    public init(device: String, seq: Int64, profile: String) {
        self.device = device
        self.seq = seq
        self.profile = profile
    }
}

public struct PushResult: Codable, Sendable, Hashable {
    public var pushed: [PushedDevice]
    public init(pushed: [PushedDevice]) { self.pushed = pushed }
}

public struct DeviceArgs: Codable, Sendable, Hashable {
    public var device: String
    public init(device: String) { self.device = device }
}

public struct RevokeResult: Codable, Sendable, Hashable {
    public var device: String
    public var seq: Int64
    public init(device: String, seq: Int64) {
        self.device = device
        self.seq = seq
    }
}

// MARK: - status

public struct DeviceStatusRow: Codable, Sendable, Hashable {
    public var device: String
    public var fingerprint: String
    public var group: String?
    public var profile: String?
    public var state: String
    public var seq: Int64
    public var lastStatus: String?
    public var reason: String?
    public var statusAt: Int64?
    enum CodingKeys: String, CodingKey {
        case device, fingerprint, group, profile, state, seq, reason
        case lastStatus = "last_status"
        case statusAt = "status_at"
    }
    public init(
        device: String, fingerprint: String, group: String?, profile: String?, state: String, seq: Int64,
        lastStatus: String?, reason: String?, statusAt: Int64?
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
    public var pending: Int
    public init(devices: [DeviceStatusRow], pending: Int) {
        self.devices = devices
        self.pending = pending
    }
}
