import Crypto
import FleetProtocol
import Foundation
import MQTT

/// A profile as typed by the operator, before validation.
public struct ProfileDraft: Sendable {
    public var ssid: String
    public var encryption: String
    public var key: String?
    public var hidden: Bool?
    public var bssid: String?
    public var eapType: String?
    public var identity: String?
    public var password: String?
    public var caCert: String?

    public init(
        ssid: String, encryption: String, key: String?, hidden: Bool?, bssid: String?, eapType: String?,
        identity: String?, password: String?, caCert: String?
    ) {
        self.ssid = ssid
        self.encryption = encryption
        self.key = key
        self.hidden = hidden
        self.bssid = bssid
        self.eapType = eapType
        self.identity = identity
        self.password = password
        self.caCert = caCert
    }

    /// The validated Wi-Fi profile.
    /// - Throws: ``FleetCtlError`` listing every problem, each with its field.
    public func profile() throws(FleetCtlError) -> WiFiProfile {
        guard let encryption = WiFiEncryption(rawValue: encryption) else {
            throw FleetCtlError(
                "invalid profile: encryption: '\(encryption)' is not one of \(WiFiEncryption.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        var eap: EAPType?
        if let eapType {
            guard let parsed = EAPType(rawValue: eapType) else {
                throw FleetCtlError("invalid profile: eap_type: '\(eapType)' is not one of peap, ttls, tls")
            }
            eap = parsed
        }
        let profile = WiFiProfile(
            ssid: ssid, encryption: encryption, key: key, hidden: hidden, bssid: bssid, eapType: eap,
            identity: identity, password: password, caCert: caCert)
        let issues = profile.validate()
        if !issues.isEmpty {
            throw FleetCtlError("invalid profile: " + issues.map(\.description).joined(separator: "; "))
        }
        return profile
    }
}

/// `fleetctl profile add`: validates locally, fetches and checks the service public key, seals the
/// profile JSON to it (OperatorSecretBox, bound to the request's correlation id) and sends it.
public struct ProfileUploader: Sendable {
    public let session: OperatorSession
    public init(session: OperatorSession) { self.session = session }

    public func add(name: String, draft: ProfileDraft, expectedFingerprint: String?) async throws -> ProfileAddResult {
        let profile = try draft.profile()
        let serviceKey = try await servicePublicKey(expectedFingerprint: expectedFingerprint)
        let correlation = OperatorSession.newCorrelation()
        var plaintext = try MessageCodec.encode(profile)
        defer { plaintext.withUnsafeMutableBufferPointer { $0.initialize(repeating: 0) } }
        let sealed = try OperatorSecretBox.seal(plaintext, correlation: correlation, servicePublicKey: serviceKey)
        return try await session.request(
            .profileAdd, ProfileAddArgs(name: name, sealed: sealed), as: ProfileAddResult.self, correlation: correlation
        )
    }

    /// The retained service public key, checked against its `kid` and the operator's expectation.
    public func servicePublicKey(expectedFingerprint: String?, timeout: Duration = .seconds(10)) async throws
        -> Curve25519.KeyAgreement.PublicKey
    {
        let messages = try await session.subscribe(session.topics.servicePublicKey)
        let first = Task { () -> [UInt8]? in
            for await message in messages where !message.payload.isEmpty { return message.payload }
            return nil
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            first.cancel()
        }
        defer { timer.cancel() }
        guard let payload = await first.value else {
            throw FleetCtlError("no service public key on \(session.topics.servicePublicKey): is provisiond running?")
        }
        let message: ServicePublicKeyMessage
        let key: Curve25519.KeyAgreement.PublicKey
        do {
            message = try MessageCodec.decode(ServicePublicKeyMessage.self, from: payload)
            key = try message.publicKey()
        } catch {
            throw FleetCtlError("unreadable service public key message: \(error)")
        }
        let fingerprint = Fingerprint.of(key)
        guard fingerprint == message.kid else {
            throw FleetCtlError("service public key message is inconsistent (kid \(message.kid), key \(fingerprint))")
        }
        if let expectedFingerprint, expectedFingerprint.lowercased() != fingerprint {
            throw FleetCtlError(
                "service key fingerprint is \(fingerprint), expected \(expectedFingerprint): refusing to send the key")
        }
        return key
    }
}
