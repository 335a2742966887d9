import Crypto
import FleetProtocol
import Foundation

/// ``WirePort`` implemented with FleetProtocol: the real codecs and the real HPKE.
public struct FleetProtocolPort: WirePort {
    private let identity: ServiceIdentity

    public init(identity: ServiceIdentity) {
        self.identity = identity
    }

    public func fingerprint(of publicKey: Data) -> String {
        Fingerprint.of(rawPublicKey: Array(publicKey))
    }

    public func replyTopicMatches(
        _ replyTo: String, operator operatorName: String, correlation: String, prefix: String
    ) -> Bool {
        guard let tree = try? TopicTree(prefix: prefix) else { return false }
        return OperatorRequest(id: correlation, op: "-", replyTo: replyTo)
            .replyTopicMatches(operator: operatorName, in: tree)
    }

    public func isValidIdentifier(_ id: String) -> Bool {
        Identifier.problem(id) == nil
    }

    public func parseBootstrapURI(_ text: String) throws -> EnrollmentIdentity {
        let uri: BootstrapURI
        do {
            uri = try BootstrapURI(parsing: text)
        } catch {
            throw ProfileIssues([error.message])
        }
        return EnrollmentIdentity(device: uri.deviceID.rawValue, publicKey: uri.publicKey.rawRepresentation)
    }

    public func sealEnvelope(
        plaintext: [UInt8], kind: EnvelopeKind, seq: Int64, device: String, devicePublicKey: Data
    ) throws -> [UInt8] {
        let key = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: devicePublicKey)
        let envelope = try EnvelopeCrypto.seal(
            plaintext: plaintext, kind: kind == .wifi ? .wifi : .reset, seq: UInt64(seq), device: DeviceID(device),
            devicePublicKey: key, servicePrivateKey: identity.privateKey)
        return try MessageCodec.encode(envelope)
    }

    public func openOperatorSecret(_ sealed: SealedSecret, correlation: String) throws -> [UInt8] {
        try OperatorSecretBox.open(sealed, correlation: correlation, servicePrivateKey: identity.privateKey)
    }

    public func decodeProfile(_ json: [UInt8], name: String) -> Result<ProfileDefinition, ProfileIssues> {
        let profile: WiFiProfile
        do {
            profile = try MessageCodec.decode(WiFiProfile.self, from: json)
        } catch {
            if !error.issues.isEmpty { return .failure(ProfileIssues(error.issues.map(\.description))) }
            return .failure(ProfileIssues([error.message]))
        }
        let issues = profile.validate()
        if !issues.isEmpty { return .failure(ProfileIssues(issues.map(\.description))) }
        return .success(
            ProfileDefinition(
                name: name, ssid: profile.ssid, encryption: profile.encryption.rawValue, key: profile.key,
                hidden: profile.hidden, bssid: profile.bssid, eapType: profile.eapType?.rawValue,
                identity: profile.identity, password: profile.password, caCert: profile.caCert))
    }

    public func encodeProfile(_ p: ProfileDefinition) throws -> [UInt8] {
        guard let encryption = WiFiEncryption(rawValue: p.encryption) else {
            throw ProfileIssues(["encryption: unknown value in the registry"])
        }
        let profile = WiFiProfile(
            ssid: p.ssid, encryption: encryption, key: p.key, hidden: p.hidden, bssid: p.bssid,
            eapType: p.eapType.flatMap(EAPType.init(rawValue:)), identity: p.identity, password: p.password,
            caCert: p.caCert)
        return try MessageCodec.encode(profile)
    }

    public func encodeAudit(_ r: AuditRecord) -> [UInt8] {
        let event = AuditEvent(
            type: r.type, device: r.device.flatMap { try? DeviceID($0) }, fingerprint: r.fingerprint,
            seq: r.seq.map { UInt64(max(0, $0)) }, state: r.state, reason: r.reason,
            detail: r.detail.map { String($0.prefix(AuditEvent.maxDetailBytes)) }, operatorName: r.operatorName,
            ts: r.ts)
        return (try? MessageCodec.encode(event)) ?? []
    }
}
