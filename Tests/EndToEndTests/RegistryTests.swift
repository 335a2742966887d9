import Crypto
import FleetProtocol
import Foundation
import Synchronization
import Testing

@testable import Provisioning

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

    /// The engine over this registry with `f`'s service key, operator alice an admin, a fixed clock.
    func engine(sealingWith f: EngineFixture) throws -> ProvisioningEngine {
        ProvisioningEngine(
            store: registry, identity: f.service, topics: try TopicTree(prefix: "bootstrap"),
            roles: OperatorRoles(["alice": .admin]), now: { 1_800_000_000 })
    }
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

    @Test func profileSecretsAreNotStoredInPlaintext() async throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        let secret = "sup3r-secret-wifi-key-\(UUID().uuidString)"
        try await t.registry.write([
            .saveProfile(
                StoredProfile(
                    name: "office", profile: WiFiProfile(ssid: "Office", encryption: .psk2, key: secret), revision: 1),
                at: 1)
        ])
        #expect(try t.registry.profile("office")?.profile.key == secret)
        // Checkpoint nothing by hand: scan the database and its WAL for the key bytes.
        for suffix in ["", "-wal"] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: t.path + suffix))) ?? Data()
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "key found in registry\(suffix)")
        }
    }

    @Test func anotherServiceKeyCannotReadProfileSecrets() async throws {
        let t = try TemporaryRegistry(serviceKey: Array(repeating: 7, count: 32))
        defer { t.remove() }
        try await t.registry.write([
            .saveProfile(
                StoredProfile(
                    name: "office", profile: WiFiProfile(ssid: "Office", encryption: .psk2, key: "12345678"),
                    revision: 1),
                at: 1)
        ])
        let other = try Registry(path: t.path, cipher: AtRestCipher(servicePrivateKey: Array(repeating: 8, count: 32)))
        #expect(throws: ProvisioningError.self) { try other.profile("office") }
        await #expect(throws: ProvisioningError.self) { try await other.transact(.fleet) { _ in Decision() } }
    }

    @Test func savedProfileKeepsItsRevisionAndReplacesTheOldOne() async throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        try await t.registry.write([
            .saveProfile(
                StoredProfile(name: "p", profile: WiFiProfile(ssid: "A", encryption: .none), revision: 1), at: 1)
        ])
        try await t.registry.write([
            .saveProfile(
                StoredProfile(name: "p", profile: WiFiProfile(ssid: "B", encryption: .none), revision: 2), at: 2)
        ])
        let saved = try #require(try t.registry.profile("p"))
        #expect(saved.revision == 2)
        #expect(saved.profile.ssid == "B")
    }

    @Test func deviceScopeLoadsTheDeviceItsPendingEntryAndTheProfileThatApplies() async throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        let g = StoredProfile(name: "g", profile: WiFiProfile(ssid: "G", encryption: .none), revision: 1)
        let own = StoredProfile(name: "own", profile: WiFiProfile(ssid: "O", encryption: .none), revision: 1)
        var b = DeviceRecord.enrolled(id: "b", publicKey: key, fingerprint: "f", group: "lab", now: 1)
        b.profile = "own"
        try await t.registry.write([
            .saveProfile(g, at: 1), .saveProfile(own, at: 1), .assignGroup("lab", profile: "g", at: 1),
            .saveDevice(.enrolled(id: "a", publicKey: key, fingerprint: "f", group: "lab", now: 1)), .saveDevice(b),
            .savePending(.afterHello(nil, id: "p", publicKey: key, fingerprint: "fp", now: 1)),
        ])
        let a = try await t.registry.loaded(.device("a"))
        #expect(a.devices.keys.sorted() == ["a"])
        #expect(a.profiles.keys.sorted() == ["g"])
        #expect(a.groupProfiles == ["lab": "g"])
        #expect(a.pending.isEmpty)
        #expect(try await t.registry.loaded(.device("b")).profiles.keys.sorted() == ["own"])
        #expect(try await t.registry.loaded(.device("p")).pending.keys.sorted() == ["p"])
        let fleet = try await t.registry.loaded(.fleet)
        #expect(fleet.devices.count == 2 && fleet.profiles.count == 2 && fleet.pending.count == 1)
        // What the registry loads is what the in-memory double hands out for the same scope.
        let scopes: [StateScope] = [
            .device("a"), .device("b"), .device("p"), .unacknowledged, .fleet, .stalePending(before: 1),
            .stalePending(before: 2),
        ]
        for scope in scopes {
            #expect(try await t.registry.loaded(scope) == fleet.scoped(to: scope))
        }
    }

    /// Issue 12: the pending count a hello checks against the cap is a counter the registry keeps in
    /// the same transaction as every insert and delete, and refused hellos are counted.
    @Test func pendingCounterFollowsInsertsDeletesAndRefusals() async throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        try await t.registry.write([
            .savePending(.afterHello(nil, id: "p1", publicKey: key, fingerprint: "fp", now: 1)),
            .savePending(.afterHello(nil, id: "p2", publicKey: key, fingerprint: "fp", now: 5)),
            .savePending(.afterHello(nil, id: "p1", publicKey: key, fingerprint: "fp", now: 6)),
            .countRefusedHello, .countRefusedHello,
        ])
        let loaded = try await t.registry.loaded(.device("x"))
        #expect(loaded.pendingCount == 2 && loaded.pending.isEmpty)
        #expect(loaded.pendingRefused == 2)
        try await t.registry.write([.deletePending(id: "p1"), .deletePending(id: "nope")])
        #expect(try await t.registry.loaded(.fleet).pendingCount == 1)
        #expect(try await t.registry.loaded(.stalePending(before: 5)).pending.isEmpty)
        #expect(try await t.registry.loaded(.stalePending(before: 6)).pending.keys.sorted() == ["p2"])
    }

    /// Issue 12: a hello costs O(1) registry work. Loading its scope reads the device, its group's
    /// assignment, its profile, its pending entry and the pending counter, each by key, and counts
    /// or scans no table, however many devices are pending.
    @Test func helloScopeReadsByKeyAndScansNoTable() async throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        let g = StoredProfile(name: "g", profile: WiFiProfile(ssid: "G", encryption: .none), revision: 1)
        try await t.registry.write(
            [.saveProfile(g, at: 1), .assignGroup("lab", profile: "g", at: 1)]
                + [.saveDevice(.enrolled(id: "a", publicKey: key, fingerprint: "f", group: "lab", now: 1))]
                + (0..<500).map {
                    .savePending(.afterHello(nil, id: "p\($0)", publicKey: key, fingerprint: "fp", now: 1))
                })
        for id: DeviceID in ["a", "p7", "stranger"] {
            let plans = try t.registry.queryPlans(loading: .device(id))
            #expect(plans.count >= 3, "\(plans)")
            #expect(!plans.contains { $0.contains("SCAN") || $0.uppercased().contains("COUNT(") }, "\(plans)")
        }
        // The age limit finds stale entries through the lastSeen index.
        let stale = try t.registry.queryPlans(loading: .stalePending(before: 2))
        #expect(stale.contains { $0.contains("pendingDeviceLastSeen") }, "\(stale)")
    }

    @Test func unacknowledgedScopeLoadsOnlyDevicesWaitingForAnAcknowledgement() async throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        var waiting = DeviceRecord.enrolled(id: "a", publicKey: key, fingerprint: "f", group: nil, now: 1)
        waiting.recordEnvelope("{}", kind: .wifi, seq: 1, assignment: "p@1", now: 2)
        try await t.registry.write([
            .saveDevice(waiting), .saveDevice(.enrolled(id: "b", publicKey: key, fingerprint: "f", group: nil, now: 1)),
        ])
        #expect(try await t.registry.loaded(.unacknowledged).devices.keys.sorted() == ["a"])
    }

    @Test func aDecisionThatThrowsWritesNothing() async throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        await #expect(throws: OperatorError.self) {
            _ = try await t.registry.transact(.fleet) { _ in
                throw OperatorError(.badRequest, "no")
            }
        }
        #expect(try t.registry.devices().isEmpty)
    }

    @Test func engineOverTheRegistryPersistsItsDecisions() async throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        let f = try EngineFixture()
        let engine = try t.engine(sealingWith: f)
        let device = TestDevice(id: "omega-1")
        let pending = try await engine.handle(.hello(device: device.id, publicKey: device.publicKey))
        #expect(events(pending) == ["device.pending"])
        let approve = try MessageCodec.encode(
            OperatorRequest(
                id: "r1", op: .approve, replyTo: "bootstrap/v1/ops/reply/alice/r1",
                arguments: ApproveArgs(
                    device: device.id, group: "lab", fingerprint: Fingerprint.of(device.key.publicKey))))
        _ = try await engine.handle(.operatorRequest(payload: approve, from: "alice"))
        #expect(try t.registry.device("omega-1")?.groupName == "lab")
        #expect(try t.registry.pendingDevices().isEmpty)
        let revoke = try MessageCodec.encode(
            OperatorRequest(
                id: "r2", op: .revoke, replyTo: "bootstrap/v1/ops/reply/alice/r2",
                arguments: DeviceArgs(device: device.id)))
        _ = try await engine.handle(.operatorRequest(payload: revoke, from: "alice"))
        #expect(configs(try await engine.handle(.connected)).map(\.device) == ["omega-1"])
        let status = DeviceStatus(device: device.id, state: .reset, seq: 1, ts: 1_800_000_000)
        #expect(try await engine.handle(.status(status)).first == .clearConfig(device: device.id))
        #expect(try await engine.handle(.connected).isEmpty)
        #expect(
            try t.registry.auditLog().map(\.type) == [.devicePending, .deviceEnrolled, .deviceRevoked, .deviceReset])
    }

    @Test func groupCommitSealsEachSeqOnceAndKeepsEveryDevicesOrder() async throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        let f = try EngineFixture()
        let engine = try t.engine(sealingWith: f)
        let devices = try (0..<40).map { TestDevice(id: try DeviceID("omega-\($0)")) }
        func request(_ op: OperatorOp, _ args: some Encodable, id: String) async throws {
            let payload = try MessageCodec.encode(
                OperatorRequest(id: id, op: op, replyTo: "bootstrap/v1/ops/reply/alice/\(id)", arguments: args))
            let actions = try await engine.handle(.operatorRequest(payload: payload, from: "alice"))
            guard case .reply(_, let bytes) = actions.last else { throw SiteError("no reply to \(op)") }
            #expect(try MessageCodec.decode(OperatorReply.self, from: bytes).ok == true, "\(op)")
        }
        func addProfile(_ key: String, id: String) async throws {
            let sealed = try OperatorSecretBox.seal(
                MessageCodec.encode(WiFiProfile(ssid: "Office", encryption: .psk2, key: key)), correlation: id,
                servicePublicKey: f.service.publicKey)
            try await request(.profileAdd, ProfileAddArgs(name: "office", sealed: sealed), id: id)
        }
        try await request(
            .enroll, EnrollArgs(devices: devices.map { EnrollEntry(uri: $0.uri, group: "lab") }), id: "r1")
        try await addProfile("correct horse battery", id: "r2")
        try await request(.assign, AssignArgs(profile: "office", devices: nil, group: "lab"), id: "r3")

        // Every device says hello twice in one batch, next to a device nobody enrolled.
        for (round, key) in [(1, "correct horse battery"), (2, "another key entirely")] {
            if round == 2 { try await addProfile(key, id: "r4") }
            let stranger = TestDevice(id: try DeviceID("stranger-\(round)"))
            let hellos = (devices + devices + [stranger]).map {
                EngineEvent.hello(device: $0.id, publicKey: $0.publicKey)
            }
            let results = try await engine.handle(batch: hellos)
            var sealed: [DeviceID: Int] = [:]
            for (event, result) in zip(hellos, results) {
                let actions = try result.get()
                for (device, payload) in configs(actions) {
                    guard case .hello(let id, _) = event, id == device else { throw SiteError("config for \(device)") }
                    let opened = try f.open(payload, for: devices.first { $0.id == device }!)
                    #expect(opened.envelope.seq == UInt64(round))
                    #expect(try MessageCodec.decode(WiFiProfile.self, from: opened.plaintext).key == key)
                    sealed[device, default: 0] += 1
                }
            }
            #expect(sealed.count == devices.count && sealed.values.allSatisfy { $0 == 1 }, "round \(round)")
            #expect(try t.registry.devices().allSatisfy { $0.lastSeq == Int64(round) })
            #expect(try t.registry.pendingDevices().map(\.id).contains(stranger.id.rawValue))
        }
        // One device scope at a time and all of the batch at once load the same.
        let ids = devices.map(\.id.rawValue) + ["stranger-2", "nobody"]
        let together = try await t.registry.loadedTogether(ids)
        for (id, state) in zip(ids, together) {
            #expect(try await t.registry.loaded(.device(try DeviceID(id))) == state, "\(id)")
        }
        // Statuses in one batch: applying then applied of the same device keep their order.
        let reports = devices.flatMap { device in
            [DeviceState.applying, .applied].map {
                EngineEvent.status(DeviceStatus(device: device.id, state: $0, seq: 2, ts: 1_800_000_000))
            }
        }
        _ = try await engine.handle(batch: reports)
        #expect(try t.registry.devices().allSatisfy { $0.state == .applied && $0.acknowledged })
        #expect(try t.registry.auditLog(limit: 1000).filter { $0.type == .deviceApplied }.count == devices.count)
    }

    @Test func auditLogKeepsOrder() async throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        try await t.registry.write([.appendAudit(AuditRecord(ts: 1, type: .devicePending, device: "x"))])
        try await t.registry.write([.appendAudit(AuditRecord(ts: 2, type: .deviceEnrolled, device: "x"))])
        #expect(try t.registry.auditLog().map(\.type) == [.devicePending, .deviceEnrolled])
    }
}

extension Registry {
    /// Writes `changes` as one decision would.
    func write(_ changes: [StateChange]) async throws {
        _ = try await transact(.fleet) { _ in Decision(changes: changes) }
    }

    /// What a group commit's decisions on these devices would see.
    func loadedTogether(_ ids: [String]) async throws -> [FleetState] {
        final class Seen: Sendable { let states = Mutex([Int: FleetState]()) }
        let seen = Seen()
        let scopes = try ids.map { StateScope.device(try DeviceID($0)) }
        _ = try await transact(batch: scopes) { index, state in
            seen.states.withLock { $0[index] = state }
            return Decision()
        }
        return seen.states.withLock { states in ids.indices.map { states[$0] ?? FleetState() } }
    }

    /// What a decision on `scope` would see.
    func loaded(_ scope: StateScope) async throws -> FleetState {
        final class Seen: Sendable { let state = Mutex(FleetState()) }
        let seen = Seen()
        _ = try await transact(scope) { state in
            seen.state.withLock { $0 = state }
            return Decision()
        }
        return seen.state.withLock { $0 }
    }
}

struct SiteError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
