import Crypto
import Foundation
import Synchronization

/// Encrypts profile secrets before they reach the registry file.
///
/// The key is derived with HKDF-SHA256 from the service's X25519 private key, so a copy of the database
/// alone does not reveal any Wi-Fi key; whoever also holds the service key file can read them (as the
/// service must). The profile name is the AEAD's associated data, so a sealed secret cannot be moved
/// from one profile row to another.
public struct AtRestCipher: Sendable {
    private let key: SymmetricKey
    /// The last secrets opened per profile name, with the sealed bytes they came from: every hello
    /// loads its device's profile, and opening it each time cost a ChaCha20-Poly1305 open and a JSON
    /// decode. Keyed by the exact sealed bytes, so a changed profile (here or by another process
    /// sharing the registry) is opened afresh.
    private let opened = OpenedSecrets()

    /// - Parameter servicePrivateKey: the raw 32 bytes of the service's X25519 private key.
    public init(servicePrivateKey: some DataProtocol) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(servicePrivateKey)),
            salt: Data("fleetbootstrap-v1 registry".utf8),
            info: Data("profile secrets".utf8),
            outputByteCount: 32
        )
    }

    func seal(_ secrets: ProfileSecrets, context: String) throws(ProvisioningError) -> Data {
        do {
            let box = try ChaChaPoly.seal(
                try JSONEncoder().encode(secrets), using: key, authenticating: Data(context.utf8))
            return box.combined
        } catch {
            throw ProvisioningError(.secretsUnreadable, "cannot seal the secrets of profile '\(context)'")
        }
    }

    func open(_ combined: Data, context: String) throws(ProvisioningError) -> ProfileSecrets {
        if let cached = opened.entries.withLock({ $0[context] }), cached.sealed == combined { return cached.secrets }
        let secrets = try openUncached(combined, context: context)
        opened.entries.withLock { cache in
            if cache.count >= 1024 { cache.removeAll() }
            cache[context] = (combined, secrets)
        }
        return secrets
    }

    private func openUncached(_ combined: Data, context: String) throws(ProvisioningError) -> ProfileSecrets {
        let plaintext: Data
        do {
            let box = try ChaChaPoly.SealedBox(combined: combined)
            plaintext = try ChaChaPoly.open(box, using: key, authenticating: Data(context.utf8))
        } catch {
            throw ProvisioningError(
                .secretsUnreadable,
                "cannot decrypt the secrets of profile '\(context)': wrong service key for this registry?")
        }
        do {
            return try JSONDecoder().decode(ProfileSecrets.self, from: plaintext)
        } catch {
            throw ProvisioningError(.secretsUnreadable, "secrets of profile '\(context)' are corrupt")
        }
    }
}

/// The cache of ``AtRestCipher``: a class, so the cipher stays a copyable value sharing one cache.
private final class OpenedSecrets: Sendable {
    let entries = Mutex<[String: (sealed: Data, secrets: ProfileSecrets)]>([:])
}
