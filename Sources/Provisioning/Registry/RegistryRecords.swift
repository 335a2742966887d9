import Foundation
import GRDB

/// Where an enrolled device is in its provisioning life.
public enum DeviceLifecycle: String, Codable, Sendable, Hashable, CaseIterable, DatabaseValueConvertible {
    /// Enrolled, nothing sent yet.
    case enrolled
    /// A config envelope is published and not yet acknowledged.
    case sent
    /// The device reported `applying` for the latest envelope.
    case applying
    /// The device reported `applied` for the latest envelope.
    case applied
    /// The device reported `failed` for the latest envelope.
    case failed
    /// The operator revoked the device; a reset envelope is retained for it.
    case revoked
}

/// An enrolled device as the registry stores it. Holds no secret.
public struct DeviceRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "device"

    public var id: String
    /// Raw 32-byte X25519 public key.
    public var publicKey: Data
    public var fingerprint: String
    public var groupName: String?
    /// The device's own profile assignment; wins over its group's.
    public var profile: String?
    public var state: DeviceLifecycle
    /// Highest envelope sequence number ever sealed for this device.
    public var lastSeq: Int64
    /// JSON of the last envelope published (wifi or reset), kept so it can be republished after a broker
    /// lost its retained messages.
    public var envelope: String?
    public var envelopeKind: String?
    /// `"<profile>@<revision>"` the last wifi envelope was sealed from.
    public var envelopeAssignment: String?
    /// True once the device reported `applied`, `failed` or `reset` for `lastSeq`.
    public var acknowledged: Bool
    public var statusState: String?
    public var statusSeq: Int64?
    public var statusReason: String?
    public var statusDetail: String?
    public var statusAt: Int64?
    public var createdAt: Int64
    public var updatedAt: Int64
}

/// A device that said hello but is not enrolled. The operator approves it after comparing fingerprints.
public struct PendingDeviceRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "pendingDevice"

    public var id: String
    public var publicKey: Data
    public var fingerprint: String
    public var firstSeen: Int64
    public var lastSeen: Int64
    public var helloCount: Int64
    /// Comma-separated fingerprints of the distinct keys this id announced, oldest first.
    public var seenFingerprints: String

    /// The distinct fingerprints this id announced, oldest first.
    public var seenFingerprintList: [String] {
        seenFingerprints.split(separator: ",").map(String.init)
    }
}

/// The non-secret half of a profile row plus the sealed secrets.
struct ProfileRow: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "profile"

    var name: String
    var ssid: String
    var encryption: String
    var hidden: Bool?
    var bssid: String?
    var eapType: String?
    var identity: String?
    var caCert: String?
    /// ChaChaPoly box (nonce || ciphertext || tag) of the JSON-encoded ``ProfileSecrets``.
    var secrets: Data
    var revision: Int64
    var createdAt: Int64
    var updatedAt: Int64
}

/// A group's profile assignment.
struct GroupAssignmentRow: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "groupAssignment"
    var groupName: String
    var profile: String
    var updatedAt: Int64
}

/// One audit log entry; mirrors what is published on `P/v1/events`. Never holds a secret.
public struct AuditRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "audit"

    public var id: Int64?
    public var ts: Int64
    public var type: String
    public var device: String?
    public var fingerprint: String?
    public var seq: Int64?
    public var state: String?
    public var reason: String?
    public var detail: String?
    public var operatorName: String?

    public init(
        ts: Int64, type: String, device: String? = nil, fingerprint: String? = nil, seq: Int64? = nil,
        state: String? = nil, reason: String? = nil, detail: String? = nil, operatorName: String? = nil
    ) {
        self.ts = ts
        self.type = type
        self.device = device
        self.fingerprint = fingerprint
        self.seq = seq
        self.state = state
        self.reason = reason
        self.detail = detail
        self.operatorName = operatorName
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A Wi-Fi profile as operators define it, secrets in the clear. Lives only in memory.
public struct ProfileDefinition: Codable, Sendable, Hashable {
    public var name: String
    public var ssid: String
    public var encryption: String
    public var key: String?
    public var hidden: Bool?
    public var bssid: String?
    public var eapType: String?
    public var identity: String?
    public var password: String?
    public var caCert: String?
    /// Bumped on every change, so a device learns about a new version of the same profile.
    public var revision: Int64

    public init(
        name: String, ssid: String, encryption: String, key: String? = nil, hidden: Bool? = nil,
        bssid: String? = nil, eapType: String? = nil, identity: String? = nil, password: String? = nil,
        caCert: String? = nil, revision: Int64 = 0
    ) {
        self.name = name
        self.ssid = ssid
        self.encryption = encryption
        self.key = key
        self.hidden = hidden
        self.bssid = bssid
        self.eapType = eapType
        self.identity = identity
        self.password = password
        self.caCert = caCert
        self.revision = revision
    }

    /// `"<name>@<revision>"`, what a wifi envelope was sealed from.
    public var assignmentTag: String { "\(name)@\(revision)" }
}

/// What an operator may see of a profile: everything but the secrets.
public struct ProfileSummary: Codable, Sendable, Hashable {
    public var name: String
    public var ssid: String
    public var encryption: String
    public var hidden: Bool?
    public var hasKey: Bool
    public var revision: Int64
    public var updatedAt: Int64
}

/// The secret fields of a profile, sealed at rest.
struct ProfileSecrets: Codable, Sendable {
    var key: String?
    var password: String?
}
