import FleetProtocol
import Foundation

/// The envelope kinds of Topics.md.
public enum EnvelopeKind: String, Sendable, Hashable {
    case wifi
    case reset
}

/// A bootstrap URI reduced to what enrollment needs.
public struct EnrollmentIdentity: Sendable, Hashable {
    public var device: String
    public var publicKey: Data
    public init(device: String, publicKey: Data) {
        self.device = device
        self.publicKey = publicKey
    }
}

/// The wire-format and crypto operations the engine needs, kept behind one seam so the engine's
/// decisions read without codec details. ``FleetProtocolPort`` is the implementation (FleetProtocol).
public protocol WirePort: Sendable {
    /// Fingerprint (Topics.md "Fingerprints") of a raw X25519 public key.
    func fingerprint(of publicKey: Data) -> String
    /// Whether `id` is a valid device id (also used for correlation ids and operator names).
    func isValidIdentifier(_ id: String) -> Bool
    /// Parses a bootstrap URI. The error's description is shown to the operator.
    func parseBootstrapURI(_ text: String) throws -> EnrollmentIdentity
    /// Seals `plaintext` for a device and returns the envelope JSON.
    func sealEnvelope(plaintext: [UInt8], kind: EnvelopeKind, seq: Int64, device: String, devicePublicKey: Data)
        throws -> [UInt8]
    /// Opens an OperatorSecretBox sealed to the service key under the request's correlation id.
    func openOperatorSecret(_ sealed: SealedSecret, correlation: String) throws -> [UInt8]
    /// Decodes a Wi-Fi profile JSON; returns the profile or the list of problems (field: message).
    func decodeProfile(_ json: [UInt8], name: String) -> Result<ProfileDefinition, ProfileIssues>
    /// The Wi-Fi profile JSON that goes into a `wifi` envelope.
    func encodeProfile(_ profile: ProfileDefinition) throws -> [UInt8]
    /// The audit event JSON for `P/v1/events`.
    func encodeAudit(_ record: AuditRecord) -> [UInt8]
    /// Whether `replyTo` is exactly `P/v1/ops/reply/{operatorName}/{correlation}` under `prefix`.
    func replyTopicMatches(_ replyTo: String, operator operatorName: String, correlation: String, prefix: String)
        -> Bool
}

/// Every problem found in a profile, each naming its field.
public struct ProfileIssues: Error, Hashable, Sendable, CustomStringConvertible {
    public var issues: [String]
    public init(_ issues: [String]) { self.issues = issues }
    public var description: String { issues.joined(separator: "; ") }
}
