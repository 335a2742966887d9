/// Why an envelope (or an operator secret box) could not be opened.
///
/// Devices report every case except `tooLarge`, `wrongDevice` and `replay` as the single reason
/// `bad_envelope` (see `reason`), so the wire never says which cryptographic check failed.
public enum EnvelopeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The payload exceeds the envelope size limit (checked before parsing).
    case tooLarge(bytes: Int)
    /// Not a well-formed envelope: JSON, fields, types, lengths, base64url or version.
    case malformed(String)
    /// The (kem, kdf, aead) triple is not (32, 1, 3).
    case unsupportedSuite(kem: Int, kdf: Int, aead: Int)
    /// The envelope (or its topic) names another device.
    case wrongDevice(expected: DeviceID, found: DeviceID)
    /// `kid` is not the fingerprint of the pinned service public key.
    case kidMismatch
    /// `seq` is not greater than the highest applied seq.
    case replay(seq: UInt64, highestApplied: UInt64)
    /// HPKE decapsulation or AEAD open failed (wrong key, wrong info/AAD, tampered bytes).
    case openFailed

    /// The status reason code a device reports for this error.
    public var reason: ReasonCode {
        switch self {
        case .tooLarge: .tooLarge
        case .wrongDevice: .wrongDevice
        case .replay: .replay
        case .malformed, .unsupportedSuite, .kidMismatch, .openFailed: .badEnvelope
        }
    }

    /// A stable short name for the precise check (tests and logs): `too_large`, `malformed`,
    /// `unsupported_suite`, `wrong_device`, `kid_mismatch`, `replay`, `open_failed`.
    public var check: String {
        switch self {
        case .tooLarge: "too_large"
        case .malformed: "malformed"
        case .unsupportedSuite: "unsupported_suite"
        case .wrongDevice: "wrong_device"
        case .kidMismatch: "kid_mismatch"
        case .replay: "replay"
        case .openFailed: "open_failed"
        }
    }

    public var description: String {
        switch self {
        case .tooLarge(let n): "envelope is \(n) bytes, at most \(Envelope.maxBytes) allowed"
        case .malformed(let m): "malformed envelope: \(m)"
        case .unsupportedSuite(let kem, let kdf, let aead):
            "unsupported HPKE suite (\(kem), \(kdf), \(aead)); only (32, 1, 3) is allowed"
        case .wrongDevice(let expected, let found): "envelope is for device '\(found)', not '\(expected)'"
        case .kidMismatch: "envelope was sealed by another service key (kid does not match the pinned key)"
        case .replay(let seq, let highest): "envelope seq \(seq) is not newer than the highest applied seq \(highest)"
        case .openFailed: "envelope failed to open (wrong key, context or tampered)"
        }
    }
}
