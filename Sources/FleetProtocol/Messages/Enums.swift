/// What an envelope's plaintext is.
public enum PayloadKind: String, WireEnum {
    case wifi
    case reset

    /// The kind byte of the HPKE context (Topics.md, "Construction").
    public var contextByte: UInt8 {
        switch self {
        case .wifi: 0x01
        case .reset: 0x02
        }
    }
}

/// A device's state in its retained status.
public enum DeviceState: String, WireEnum {
    case online, applying, applied, failed, offline, reset
}

/// Why a device reports `failed` (or `online` after a boot-time rollback); the fixed list of Topics.md.
public enum ReasonCode: String, WireEnum {
    case authFailed = "auth_failed"
    case networkNotFound = "network_not_found"
    case noAddress = "no_address"
    case timeout
    case badEnvelope = "bad_envelope"
    case replay
    case invalidProfile = "invalid_profile"
    case wrongDevice = "wrong_device"
    case tooLarge = "too_large"
    case applyError = "apply_error"
    case rolledBack = "rolled_back"
    case brokerUnreachable = "broker_unreachable"
    case subnetConflict = "subnet_conflict"
}

/// The service's own state in its retained status.
public enum ServiceState: String, WireEnum {
    case online, offline
}

/// What an audit event on `P/v1/events` reports; the fixed list of Topics.md ("Service behaviour").
public enum AuditEventType: String, WireEnum {
    /// First hello of an unknown id, or a new key for it.
    case devicePending = "device.pending"
    /// A hello whose key differs from the enrolled key; `fingerprint` is the presented key's.
    case deviceKeyMismatch = "device.key_mismatch"
    case deviceEnrolled = "device.enrolled"
    case deviceRevoked = "device.revoked"
    /// The device confirmed a revoke.
    case deviceReset = "device.reset"
    case deviceApplied = "device.applied"
    /// With `reason`.
    case deviceFailed = "device.failed"
    /// A new envelope; `seq`, and `detail` names the profile.
    case configSealed = "config.sealed"
    case profileSaved = "profile.saved"
    case profileRemoved = "profile.removed"
    case profileAssigned = "profile.assigned"
    /// An operator request whose `reply_to` was not the requester's own reply topic.
    case opsRejected = "ops.rejected"
    /// An operator removed a pending device (`pending.reject`).
    case deviceRejected = "device.rejected"
    /// An operator removed pending devices (`pending.purge`); `detail` says how many.
    case pendingPurged = "pending.purged"
}
