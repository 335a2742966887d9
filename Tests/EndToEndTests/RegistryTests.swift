import FleetProtocol
import Foundation
import Provisioning
import Testing

/// A fresh registry in its own temporary directory, removed at the end of the test.
struct TemporaryRegistry {
    let directory: URL
    let path: String
    let registry: Registry

    init(serviceKey: [UInt8] = Array(repeating: 7, count: 32)) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("registry.sqlite").path
        registry = try Registry(path: path, cipher: AtRestCipher(servicePrivateKey: serviceKey))
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite("Registry")
struct RegistryTests {
    let key = Data(repeating: 1, count: 32)

    @Test func createsFileWithMode0600InWALMode() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        let attributes = try FileManager.default.attributesOfItem(atPath: t.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try t.registry.journalMode() == "wal")
    }

    @Test func profileSecretsAreNotStoredInPlaintext() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        let secret = "sup3r-secret-wifi-key-\(UUID().uuidString)"
        try t.registry.saveProfile(
            StoredProfile(name: "office", profile: WiFiProfile(ssid: "Office", encryption: .psk2, key: secret)), now: 1)
        #expect(try t.registry.profile("office")?.profile.key == secret)
        // Checkpoint nothing by hand: scan the database and its WAL for the key bytes.
        for suffix in ["", "-wal"] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: t.path + suffix))) ?? Data()
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "key found in registry\(suffix)")
        }
    }

    @Test func anotherServiceKeyCannotReadProfileSecrets() throws {
        let t = try TemporaryRegistry(serviceKey: Array(repeating: 7, count: 32))
        defer { t.remove() }
        try t.registry.saveProfile(
            StoredProfile(name: "office", profile: WiFiProfile(ssid: "Office", encryption: .psk2, key: "12345678")),
            now: 1)
        let other = try Registry(path: t.path, cipher: AtRestCipher(servicePrivateKey: Array(repeating: 8, count: 32)))
        #expect(throws: ProvisioningError.self) { try other.profile("office") }
    }

    @Test func savingAProfileAgainBumpsItsRevision() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        let first = try t.registry.saveProfile(
            StoredProfile(name: "p", profile: WiFiProfile(ssid: "A", encryption: .none)), now: 1)
        let second = try t.registry.saveProfile(
            StoredProfile(name: "p", profile: WiFiProfile(ssid: "B", encryption: .none)), now: 2)
        #expect(first.revision == 1)
        #expect(second.revision == 2)
        #expect(try t.registry.profile("p")?.profile.ssid == "B")
    }

    @Test func enrollIsIdempotentForTheSameKeyAndRefusesAnotherKey() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        try t.registry.enroll(id: "d1", publicKey: key, fingerprint: "f", group: "g", now: 1)
        try t.registry.enroll(id: "d1", publicKey: key, fingerprint: "f", group: nil, now: 2)
        #expect(try t.registry.device("d1")?.groupName == "g")
        #expect(
            throws: ProvisioningError(.keyConflict, "device 'd1' is enrolled with another key (f); revoke it first")
        ) {
            try t.registry.enroll(
                id: "d1", publicKey: Data(repeating: 2, count: 32), fingerprint: "x", group: nil, now: 3)
        }
    }

    @Test func approveMovesAPendingDeviceIntoTheRegistry() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        try t.registry.recordPending(id: "d2", publicKey: key, fingerprint: "fp", now: 1)
        try t.registry.recordPending(id: "d2", publicKey: key, fingerprint: "fp", now: 2)
        #expect(try t.registry.pendingDevices().map(\.helloCount) == [2])
        let (before, device) = try t.registry.approve(id: "d2", expectedFingerprint: "fp", group: "lab", now: 3)
        #expect(before == nil)
        #expect(device.fingerprint == "fp")
        #expect(try t.registry.pendingDevices().isEmpty)
        #expect(throws: ProvisioningError.self) {
            try t.registry.approve(id: "nope", expectedFingerprint: "fp", group: nil, now: 4)
        }
    }

    @Test func approveWithTheFingerprintOfAReplacedPendingKeyEnrollsNothing() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        let attacker = Data(repeating: 7, count: 32)
        // The operator reads "fp-real" in `pending`, then the attacker's hello replaces the pending key.
        try t.registry.recordPending(id: "d3", publicKey: key, fingerprint: "fp-real", now: 1)
        try t.registry.recordPending(id: "d3", publicKey: attacker, fingerprint: "fp-evil", now: 2)
        #expect(throws: ProvisioningError.self) {
            try t.registry.approve(id: "d3", expectedFingerprint: "fp-real", group: nil, now: 3)
        }
        #expect(try t.registry.device("d3") == nil)
        #expect(try t.registry.pendingDevices().map(\.id) == ["d3"])
    }

    @Test func approveIsRefusedOnceAPendingIDAnnouncedTwoKeys() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        let attacker = Data(repeating: 7, count: 32)
        try t.registry.recordPending(id: "d4", publicKey: attacker, fingerprint: "fp-evil", now: 1)
        try t.registry.recordPending(id: "d4", publicKey: key, fingerprint: "fp-real", now: 2)
        // The latest key is the real one, yet two keys were seen: nobody can say which is the device.
        do {
            try t.registry.approve(id: "d4", expectedFingerprint: "fp-real", group: nil, now: 3)
            Issue.record("approve should have been refused")
        } catch {
            #expect(error.code == .conflictingKeys)
            #expect(error.message.hasPrefix("conflicting keys seen for d4: fp-evil, fp-real;"))
            #expect(error.message.contains("re-verify the device") || error.message.contains("Re-verify the device"))
        }
        #expect(try t.registry.device("d4") == nil)
    }

    @Test func pendingRemembersAtMostEightDistinctKeys() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        for i in 0..<20 {
            try t.registry.recordPending(
                id: "d5", publicKey: Data(repeating: UInt8(i), count: 32), fingerprint: "fp\(i)", now: Int64(i))
        }
        let pending = try #require(try t.registry.pendingDevices().first)
        #expect(pending.seenFingerprintList == (0..<8).map { "fp\($0)" })
        #expect(pending.fingerprint == "fp19")
    }

    @Test func deviceAssignmentWinsOverGroupAssignment() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        try t.registry.saveProfile(StoredProfile(name: "g", profile: WiFiProfile(ssid: "G", encryption: .none)), now: 1)
        try t.registry.saveProfile(
            StoredProfile(name: "own", profile: WiFiProfile(ssid: "O", encryption: .none)), now: 1)
        try t.registry.enroll(id: "a", publicKey: key, fingerprint: "f", group: "lab", now: 1)
        try t.registry.enroll(id: "b", publicKey: key, fingerprint: "f", group: "lab", now: 1)
        try t.registry.assign(profile: "g", group: "lab", now: 2)
        try t.registry.assign(profile: "own", devices: ["b"], now: 2)
        #expect(try t.registry.effectiveProfile(for: t.registry.requireDevice("a"))?.name == "g")
        #expect(try t.registry.effectiveProfile(for: t.registry.requireDevice("b"))?.name == "own")
    }

    @Test func assigningUnknownProfileOrDeviceChangesNothing() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        try t.registry.saveProfile(StoredProfile(name: "p", profile: WiFiProfile(ssid: "P", encryption: .none)), now: 1)
        try t.registry.enroll(id: "a", publicKey: key, fingerprint: "f", group: nil, now: 1)
        #expect(throws: ProvisioningError.self) { try t.registry.assign(profile: "missing", devices: ["a"], now: 2) }
        #expect(throws: ProvisioningError.self) {
            try t.registry.assign(profile: "p", devices: ["a", "ghost"], now: 2)
        }
        #expect(try t.registry.requireDevice("a").profile == nil)
    }

    @Test func removingAnAssignedProfileIsRefused() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        try t.registry.saveProfile(StoredProfile(name: "p", profile: WiFiProfile(ssid: "P", encryption: .none)), now: 1)
        try t.registry.assign(profile: "p", group: "lab", now: 1)
        #expect(throws: ProvisioningError.self) { try t.registry.removeProfile("p") }
        try t.registry.assign(profile: nil, group: "lab", now: 2)
        try t.registry.removeProfile("p")
        #expect(try t.registry.profile("p") == nil)
    }

    @Test func onlyAStatusForTheLatestSeqAcknowledgesTheEnvelope() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        try t.registry.enroll(id: "a", publicKey: key, fingerprint: "f", group: nil, now: 1)
        try t.registry.storeNewEnvelope(device: "a", kind: .wifi, assignment: "p@1", now: 2) { _, seq in
            "{\"seq\":\(seq)}"
        }
        try t.registry.storeNewEnvelope(device: "a", kind: .wifi, assignment: "p@2", now: 3) { _, seq in
            "{\"seq\":\(seq)}"
        }
        #expect(try t.registry.unacknowledgedDevices().map(\.id) == ["a"])
        try t.registry.recordStatus(device: "a", state: .applied, seq: 1, reason: nil, detail: nil, now: 4)
        #expect(try t.registry.requireDevice("a").state == .sent)
        try t.registry.recordStatus(device: "a", state: .failed, seq: 2, reason: .authFailed, detail: nil, now: 5)
        let device = try t.registry.requireDevice("a")
        #expect(device.state == .failed)
        #expect(device.statusReason == .authFailed)
        #expect(device.lastSeq == 2)
        #expect(device.envelope == "{\"seq\":2}")
        #expect(try t.registry.unacknowledgedDevices().isEmpty)
    }

    @Test func auditLogKeepsOrder() throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        try t.registry.appendAudit(AuditRecord(ts: 1, type: .devicePending, device: "x"))
        try t.registry.appendAudit(AuditRecord(ts: 2, type: .deviceEnrolled, device: "x"))
        #expect(try t.registry.auditLog().map(\.type) == [.devicePending, .deviceEnrolled])
    }
}

struct SiteError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
