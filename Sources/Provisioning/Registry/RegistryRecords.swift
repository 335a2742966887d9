import FleetProtocol
import Foundation
import GRDB

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
    public var envelopeKind: PayloadKind?
    /// `"<profile>@<revision>"` the last wifi envelope was sealed from.
    public var envelopeAssignment: String?
    /// True once the device reported `applied`, `failed` or `reset` for `lastSeq`.
    public var acknowledged: Bool
    /// The device's last status report, whatever its seq.
    public var statusState: DeviceState?
    public var statusSeq: Int64?
    public var statusReason: ReasonCode?
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
    var encryption: WiFiEncryption
    var hidden: Bool?
    var bssid: String?
    var eapType: EAPType?
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
///
/// Made by the engine core only (its memberwise initializer), stored by the registry.
public struct AuditRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "audit"

    public var id: Int64?
    public var ts: Int64
    public var type: AuditEventType
    public var device: String?
    public var fingerprint: String?
    public var seq: Int64?
    public var state: DeviceState?
    public var reason: ReasonCode?
    public var detail: String?
    public var operatorName: String?

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A named Wi-Fi profile as the registry keeps it: the wire profile (secrets in the clear, in memory
/// only) and its revision. The registry splits it into a ``ProfileRow`` and sealed ``ProfileSecrets``.
public struct StoredProfile: Sendable, Hashable {
    public var name: String
    public var profile: WiFiProfile
    /// Bumped on every change, so a device learns about a new version of the same profile.
    public var revision: Int64

    public init(name: String, profile: WiFiProfile, revision: Int64 = 0) {
        self.name = name
        self.profile = profile
        self.revision = revision
    }

    /// `"<name>@<revision>"`, what a wifi envelope was sealed from.
    public var assignmentTag: String { "\(name)@\(revision)" }
}

/// The secret fields of a profile, sealed at rest.
struct ProfileSecrets: Codable, Sendable {
    var key: String?
    var password: String?
}

// The protocol's enumerations are stored under their wire names.
extension DeviceLifecycle: DatabaseValueConvertible {}
extension DeviceState: DatabaseValueConvertible {}
extension ReasonCode: DatabaseValueConvertible {}
extension PayloadKind: DatabaseValueConvertible {}
extension WiFiEncryption: DatabaseValueConvertible {}
extension EAPType: DatabaseValueConvertible {}
extension AuditEventType: DatabaseValueConvertible {}

extension AuditRecord {
    /// The `P/v1/events` payload of this record; a longer `detail` is cut to the event's limit.
    public func eventPayload() throws(ProtocolError) -> [UInt8] {
        var detail = self.detail
        if let text = detail, text.utf8.count > AuditEvent.maxDetailBytes {
            // A cut character becomes U+FFFD (3 bytes), hence the margin.
            detail = String(decoding: text.utf8.prefix(AuditEvent.maxDetailBytes - 3), as: UTF8.self)
        }
        var id: DeviceID?
        if let device { id = try DeviceID(device) }
        let event = AuditEvent(
            type: type, device: id, fingerprint: fingerprint,
            seq: seq.map { UInt64(max(0, $0)) }, state: state, reason: reason, detail: detail,
            operatorName: operatorName, ts: ts)
        return try MessageCodec.encode(event)
    }
}
