import Crypto
import FleetProtocol
import Foundation

/// `fleetctl keys create`: the service key pair, written locally (no broker involved).
public enum ServiceKeys {
    public struct Created: Sendable, Hashable {
        public var privateKeyPath: String
        public var publicKeyPath: String
        public var fingerprint: String
    }

    /// Creates `DIR/service.key` (0600) and `DIR/service.pub`; refuses to replace an existing key.
    public static func create(in directory: String) throws -> Created {
        let dir = URL(fileURLWithPath: directory)
        do {
            try FileManager.default.createDirectory(
                at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw FleetCtlError(.keyFile, "cannot create \(directory): \(error.localizedDescription)")
        }
        let privatePath = dir.appendingPathComponent("service.key").path
        let publicPath = dir.appendingPathComponent("service.pub").path
        if FileManager.default.fileExists(atPath: privatePath) {
            throw FleetCtlError(.keyFile, "\(privatePath) exists: refusing to replace a service key (devices pin it)")
        }
        let key = Curve25519.KeyAgreement.PrivateKey()
        try KeyFile.savePrivateKey(key, to: privatePath)
        try KeyFile.savePublicKey(key.publicKey, to: publicPath)
        return Created(
            privateKeyPath: privatePath, publicKeyPath: publicPath, fingerprint: Fingerprint.of(key.publicKey))
    }
}
