/// The operator operations on `P/v1/ops/request/{operator}` (Topics.md, "Operator operations").
public enum OperatorOp: String, WireEnum {
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
    case pendingReject = "pending.reject"
    case pendingPurge = "pending.purge"
}

/// Stable error codes of failed operator replies (Topics.md, "Operator operations").
public enum OperatorErrorCode: String, WireEnum {
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
    case reservedID = "reserved_id"
    /// The requester's role does not allow the operation (``OperatorRole``).
    case forbidden = "forbidden"
    /// The request names a site (`site`) that this provisiond does not serve.
    case wrongSite = "wrong_site"
    case sealedSecret = "sealed_secret"
    case secretsUnreadable = "secrets_unreadable"
    case storage = "storage"
    case internalError = "internal"
}

/// The `error` object of a failed operator reply, and the error fleetctl throws when provisiond
/// refused a request.
public struct OperatorError: Error, Codable, Hashable, Sendable, CustomStringConvertible {
    /// Longest `message` in bytes.
    public static let maxMessageBytes = 4096

    public var code: OperatorErrorCode
    /// Human-readable message (never a secret).
    public var message: String

    public init(_ code: OperatorErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// Where an enrolled device is in its provisioning life: the `state` of a row of the `status` op.
public enum DeviceLifecycle: String, WireEnum {
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
