import Crypto
import FleetProtocol
import Foundation
import MQTT

/// What the operator trusts as the service public key: a premises key is sealed only to a key that
/// matches it, never to whatever key the broker happens to hold.
public enum ServiceKeyPin: Sendable, Hashable {
    /// The fingerprint (`xxxx-xxxx-xxxx-xxxx`, lowercase), as printed by `fleetctl keys create`.
    case fingerprint(String)
    /// The full raw 32-byte public key, e.g. read from `service.pub`.
    case publicKey([UInt8])

    /// The environment variable that may hold the fingerprint.
    public static let environmentVariable = "FLEETCTL_SERVICE_FINGERPRINT"

    /// The pin from `--service-pubkey FILE`, else `--service-fingerprint`, else the environment.
    /// When both flags are given they must agree.
    /// - Throws: ``FleetCtlError`` (one line) when none is given, or one is malformed or unreadable.
    public static func resolve(
        fingerprint: String?, publicKeyFile: String?, environment: [String: String]
    ) throws(FleetCtlError) -> ServiceKeyPin {
        func checked(_ typed: String, from source: String) throws(FleetCtlError) -> String {
            let lowered = typed.trimmingCharacters(in: .whitespaces).lowercased()
            guard Fingerprint.isWellFormed(lowered) else {
                throw FleetCtlError(
                    .servicePin, "\(source) must look like 3f2a-91c0-7d44-e810, not '\(typed.prefix(40))'")
            }
            return lowered
        }
        if let publicKeyFile {
            let key: Curve25519.KeyAgreement.PublicKey
            do {
                key = try KeyFile.loadPublicKey(from: publicKeyFile)
            } catch {
                throw FleetCtlError(.servicePin, "cannot read the service public key \(publicKeyFile): \(error)")
            }
            if let fingerprint, try checked(fingerprint, from: "--service-fingerprint") != Fingerprint.of(key) {
                throw FleetCtlError(
                    .servicePin,
                    "--service-fingerprint \(fingerprint) does not match \(publicKeyFile) (\(Fingerprint.of(key)))")
            }
            return .publicKey(Array(key.rawRepresentation))
        }
        if let fingerprint { return .fingerprint(try checked(fingerprint, from: "--service-fingerprint")) }
        if let value = environment[environmentVariable], !value.isEmpty {
            return .fingerprint(try checked(value, from: environmentVariable))
        }
        throw FleetCtlError(
            .servicePin,
            "refusing to seal a key to an unpinned service key: give --service-fingerprint xxxx-xxxx-xxxx-xxxx "
                + "(printed by `fleetctl keys create`), \(environmentVariable), or --service-pubkey FILE")
    }

    /// Whether `key` is the pinned key.
    public func matches(_ key: Curve25519.KeyAgreement.PublicKey) -> Bool {
        switch self {
        case .fingerprint(let fingerprint): return Fingerprint.of(key) == fingerprint
        case .publicKey(let raw): return Array(key.rawRepresentation) == raw
        }
    }

    var expected: String {
        switch self {
        case .fingerprint(let fingerprint): return fingerprint
        case .publicKey(let raw): return Fingerprint.of(rawPublicKey: raw) + " (full key from file)"
        }
    }
}

/// `fleetctl profile add`: validates locally, fetches the service public key and checks it against
/// the operator's pin, seals the profile JSON to it (OperatorSecretBox, bound to the request's
/// correlation id) and sends it.
public struct ProfileUploader: Sendable {
    public let session: OperatorSession
    public init(session: OperatorSession) { self.session = session }

    /// Validates `profile` locally, then seals and sends it.
    /// - Throws: ``FleetCtlError`` listing every problem of an invalid profile, each with its field
    ///   (never the key), before anything is sent.
    public func add(name: String, profile: WiFiProfile, pin: ServiceKeyPin) async throws -> ProfileAddResult {
        let issues = profile.validate()
        if !issues.isEmpty {
            throw FleetCtlError(.invalidInput, "invalid profile: " + issues.map(\.description).joined(separator: "; "))
        }
        let serviceKey = try await servicePublicKey(pin: pin)
        let correlation = OperatorSession.newCorrelation()
        var plaintext = try MessageCodec.encode(profile)
        defer { plaintext.withUnsafeMutableBufferPointer { $0.initialize(repeating: 0) } }
        let sealed = try OperatorSecretBox.seal(plaintext, correlation: correlation, servicePublicKey: serviceKey)
        return try await session.request(
            .profileAdd, ProfileAddArgs(name: name, sealed: sealed), as: ProfileAddResult.self, correlation: correlation
        )
    }

    /// The retained service public key, checked against its `kid` and the operator's pin.
    public func servicePublicKey(pin: ServiceKeyPin, timeout: Duration = .seconds(10)) async throws
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
            throw FleetCtlError(
                .noReply, "no service public key on \(session.topics.servicePublicKey): is provisiond running?")
        }
        let message: ServicePublicKeyMessage
        let key: Curve25519.KeyAgreement.PublicKey
        do {
            message = try MessageCodec.decode(ServicePublicKeyMessage.self, from: payload)
            key = try message.publicKey()
        } catch {
            throw FleetCtlError(.badReply, "unreadable service public key message: \(error)")
        }
        let fingerprint = Fingerprint.of(key)
        guard fingerprint == message.kid else {
            throw FleetCtlError(
                .badReply, "service public key message is inconsistent (kid \(message.kid), key \(fingerprint))")
        }
        guard pin.matches(key) else {
            throw FleetCtlError(
                .servicePin,
                "service key fingerprint is \(fingerprint), expected \(pin.expected): refusing to send the key")
        }
        return key
    }
}
