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
}

/// The service's own state in its retained status.
public enum ServiceState: String, WireEnum {
    case online, offline
}
