import Crypto
import FleetProtocol
import Foundation
import Testing

@testable import Provisioning

/// The pure core and the lifecycle rules: plain values in, decisions out; no store, no broker, no clock.
@Suite("Provisioning core")
struct ProvisioningCoreTests {
    let key = Data(repeating: 1, count: 32)
    let core: ProvisioningCore

    init() throws {
        core = ProvisioningCore(
            identity: ServiceIdentity(privateKey: Curve25519.KeyAgreement.PrivateKey()),
            topics: try TopicTree(prefix: "bootstrap"), roles: OperatorRoles(["alice": .admin]))
    }

    func request(_ op: OperatorOp, _ args: some Encodable, id: String = "r1") throws -> EngineEvent {
        .operatorRequest(
            payload: try MessageCodec.encode(
                OperatorRequest(id: id, op: op, replyTo: "bootstrap/v1/ops/reply/alice/\(id)", arguments: args)),
            from: "alice")
    }

    @Test func helloFromAnUnknownDeviceRecordsItPendingAtTheGivenTime() throws {
        let device = TestDevice(id: "stranger")
        let decision = try core.decide(
            .hello(device: device.id, publicKey: device.publicKey), in: FleetState(), now: 42)
        guard case .savePending(let entry) = decision.changes.first else {
            throw SiteError("no pending entry in \(decision.changes)")
        }
        #expect(entry.firstSeen == 42 && entry.lastSeen == 42 && entry.helloCount == 1)
        #expect(events(decision.actions) == ["device.pending"])
        #expect(configs(decision.actions).isEmpty)
    }

    @Test func statusAboutTheLatestEnvelopeAcknowledgesItAndIsAudited() throws {
        var device = DeviceRecord.enrolled(id: "a", publicKey: key, fingerprint: "f", group: nil, now: 1)
        device.recordEnvelope("{}", kind: .wifi, seq: 3, assignment: "p@1", now: 2)
        let state = FleetState(devices: ["a": device])
        let decision = try core.decide(
            .status(DeviceStatus(device: "a", state: .failed, seq: 3, reason: .authFailed, ts: 5)), in: state, now: 9)
        guard case .saveDevice(let saved) = decision.changes.first else { throw SiteError("device not saved") }
        #expect(saved.state == .failed && saved.acknowledged && saved.statusAt == 9)
        guard case .publishEvent(let event) = decision.actions.first else { throw SiteError("no event") }
        #expect(event.type == .deviceFailed && event.state == .failed && event.reason == .authFailed && event.ts == 9)
    }

    @Test func statusFromAnUnknownDeviceChangesNothing() throws {
        let decision = try core.decide(
            .status(DeviceStatus(device: "ghost", state: .applied, seq: 1, ts: 5)), in: FleetState(), now: 9)
        #expect(decision == Decision())
    }

    @Test func connectingRepublishesOnlyUnacknowledgedEnvelopes() throws {
        var waiting = DeviceRecord.enrolled(id: "b", publicKey: key, fingerprint: "f", group: nil, now: 1)
        waiting.recordEnvelope("{\"seq\":1}", kind: .wifi, seq: 1, assignment: "p@1", now: 2)
        let done = DeviceRecord.enrolled(id: "a", publicKey: key, fingerprint: "f", group: nil, now: 1)
        let decision = try core.decide(.connected, in: FleetState(devices: ["a": done, "b": waiting]), now: 3)
        #expect(decision.actions == [.publishConfig(device: "b", payload: Array("{\"seq\":1}".utf8))])
        #expect(decision.changes.isEmpty)
    }

    @Test func aFailingRequestChangesNothing() throws {
        var state = FleetState(devices: ["a": .enrolled(id: "a", publicKey: key, fingerprint: "f", group: nil, now: 1)])
        state.profiles["p"] = StoredProfile(name: "p", profile: WiFiProfile(ssid: "P", encryption: .none), revision: 1)
        let missingProfile = try core.decide(
            request(.assign, AssignArgs(profile: "missing", devices: ["a"], group: nil)), in: state, now: 2)
        let unknownDevice = try core.decide(
            request(.assign, AssignArgs(profile: "p", devices: ["a", "ghost"], group: nil)), in: state, now: 2)
        for decision in [missingProfile, unknownDevice] {
            #expect(decision.changes.isEmpty)
            #expect(decision.actions.count == 1)
        }
    }

    // MARK: - Lifecycle rules (formerly inside the registry's transactions)

    @Test func savingAProfileAgainBumpsItsRevision() {
        var draft = Draft(FleetState(), now: 1)
        let first = draft.saveProfile(name: "p", profile: WiFiProfile(ssid: "A", encryption: .none))
        let second = draft.saveProfile(name: "p", profile: WiFiProfile(ssid: "B", encryption: .none))
        #expect(first.revision == 1)
        #expect(second.revision == 2)
        #expect(draft.state.profiles["p"]?.profile.ssid == "B")
    }

    @Test func enrollIsIdempotentForTheSameKeyAndRefusesAnotherKey() throws {
        var draft = Draft(FleetState(), now: 1)
        try draft.enroll(id: "d1", publicKey: key, fingerprint: "f", group: "g")
        try draft.enroll(id: "d1", publicKey: key, fingerprint: "f", group: nil)
        #expect(draft.state.devices["d1"]?.groupName == "g")
        #expect(throws: OperatorError(.keyConflict, "device 'd1' is enrolled with another key (f); revoke it first")) {
            try draft.enroll(id: "d1", publicKey: Data(repeating: 2, count: 32), fingerprint: "x", group: nil)
        }
    }

    @Test func aRevokedDeviceEnrolledAgainStartsOver() throws {
        var revoked = DeviceRecord.enrolled(id: "d1", publicKey: key, fingerprint: "f", group: "g", now: 1)
        revoked.recordEnvelope("{}", kind: .reset, seq: 4, assignment: nil, now: 2)
        var draft = Draft(FleetState(devices: ["d1": revoked]), now: 3)
        let (before, device) = try draft.enroll(
            id: "d1", publicKey: Data(repeating: 2, count: 32), fingerprint: "x", group: nil)
        #expect(before?.state == .revoked)
        #expect(device.state == .enrolled && device.fingerprint == "x" && device.envelope == nil)
        #expect(device.lastSeq == 4, "seqs keep growing: the device still holds seq 4")
    }

    @Test func approveMovesAPendingDeviceIntoTheRegistry() throws {
        var draft = Draft(FleetState(), now: 1)
        draft.recordPendingHello(id: "d2", publicKey: key, fingerprint: "fp")
        draft.recordPendingHello(id: "d2", publicKey: key, fingerprint: "fp")
        #expect(draft.state.pending["d2"]?.helloCount == 2)
        let (before, device) = try draft.approve(id: "d2", expectedFingerprint: "fp", group: "lab")
        #expect(before == nil)
        #expect(device.fingerprint == "fp")
        #expect(draft.state.pending.isEmpty)
        #expect(draft.changes.last == .deletePending(id: "d2"))
        #expect(throws: OperatorError.self) { try draft.approve(id: "nope", expectedFingerprint: "fp", group: nil) }
    }

    @Test func approveWithTheFingerprintOfAReplacedPendingKeyEnrollsNothing() throws {
        var draft = Draft(FleetState(), now: 1)
        let attacker = Data(repeating: 7, count: 32)
        // The operator reads "fp-real" in `pending`, then the attacker's hello replaces the pending key.
        draft.recordPendingHello(id: "d3", publicKey: key, fingerprint: "fp-real")
        draft.recordPendingHello(id: "d3", publicKey: attacker, fingerprint: "fp-evil")
        let changes = draft.changes
        #expect(throws: OperatorError.self) { try draft.approve(id: "d3", expectedFingerprint: "fp-real", group: nil) }
        #expect(draft.state.devices["d3"] == nil)
        #expect(draft.state.pending.keys.sorted() == ["d3"])
        #expect(draft.changes == changes)
    }

    @Test func approveIsRefusedOnceAPendingIDAnnouncedTwoKeys() throws {
        var draft = Draft(FleetState(), now: 1)
        let attacker = Data(repeating: 7, count: 32)
        draft.recordPendingHello(id: "d4", publicKey: attacker, fingerprint: "fp-evil")
        draft.recordPendingHello(id: "d4", publicKey: key, fingerprint: "fp-real")
        // The latest key is the real one, yet two keys were seen: nobody can say which is the device.
        do {
            try draft.approve(id: "d4", expectedFingerprint: "fp-real", group: nil)
            Issue.record("approve should have been refused")
        } catch {
            #expect(error.code == .conflictingKeys)
            #expect(error.message.hasPrefix("conflicting keys seen for d4: fp-evil, fp-real;"))
            #expect(error.message.contains("Re-verify the device"))
        }
        #expect(draft.state.devices["d4"] == nil)
    }

    @Test func pendingRemembersAtMostEightDistinctKeys() throws {
        var draft = Draft(FleetState(), now: 1)
        for i in 0..<20 {
            draft.recordPendingHello(id: "d5", publicKey: Data(repeating: UInt8(i), count: 32), fingerprint: "fp\(i)")
        }
        let pending = try #require(draft.state.pending["d5"])
        #expect(pending.seenFingerprintList == (0..<8).map { "fp\($0)" })
        #expect(pending.fingerprint == "fp19")
    }

    @Test func deviceAssignmentWinsOverGroupAssignment() throws {
        var draft = Draft(FleetState(), now: 1)
        draft.saveProfile(name: "g", profile: WiFiProfile(ssid: "G", encryption: .none))
        draft.saveProfile(name: "own", profile: WiFiProfile(ssid: "O", encryption: .none))
        try draft.enroll(id: "a", publicKey: key, fingerprint: "f", group: "lab")
        try draft.enroll(id: "b", publicKey: key, fingerprint: "f", group: "lab")
        draft.assign(profile: "g", group: "lab")
        try draft.assign(profile: "own", device: "b")
        let state = draft.state
        #expect(try state.effectiveProfile(for: #require(state.devices["a"]))?.name == "g")
        #expect(try state.effectiveProfile(for: #require(state.devices["b"]))?.name == "own")
        // A device scope carries exactly what its decision needs.
        #expect(state.scoped(to: .device("b")).profiles.keys.sorted() == ["own"])
    }

    @Test func assigningUnknownProfileOrDeviceIsRefused() throws {
        var draft = Draft(FleetState(), now: 1)
        draft.saveProfile(name: "p", profile: WiFiProfile(ssid: "P", encryption: .none))
        try draft.enroll(id: "a", publicKey: key, fingerprint: "f", group: nil)
        #expect(throws: OperatorError.self) { try draft.assign(profile: "missing", device: "a") }
        #expect(throws: OperatorError.self) { try draft.assign(profile: "p", device: "ghost") }
        #expect(draft.state.devices["a"]?.profile == nil)
    }

    @Test func removingAnAssignedProfileIsRefused() throws {
        var draft = Draft(FleetState(), now: 1)
        draft.saveProfile(name: "p", profile: WiFiProfile(ssid: "P", encryption: .none))
        draft.assign(profile: "p", group: "lab")
        #expect(throws: OperatorError(.profileInUse, "profile 'p' is assigned to group lab; reassign them first")) {
            try draft.removeProfile("p")
        }
        var free = Draft(FleetState(profiles: draft.state.profiles), now: 2)
        try free.removeProfile("p")
        #expect(free.state.profiles["p"] == nil)
        #expect(throws: OperatorError.self) { try free.removeProfile("p") }
    }

    @Test func onlyAStatusForTheLatestSeqAcknowledgesTheEnvelope() throws {
        var device = DeviceRecord.enrolled(id: "a", publicKey: key, fingerprint: "f", group: nil, now: 1)
        device.recordEnvelope("{\"seq\":1}", kind: .wifi, seq: 1, assignment: "p@1", now: 2)
        device.recordEnvelope("{\"seq\":2}", kind: .wifi, seq: 2, assignment: "p@2", now: 3)
        var draft = Draft(FleetState(devices: ["a": device]), now: 4)
        #expect(draft.state.scoped(to: .unacknowledged).devices.keys.sorted() == ["a"])
        draft.recordStatus(DeviceStatus(device: "a", state: .applied, seq: 1, ts: 4))
        #expect(draft.state.devices["a"]?.state == .sent)
        draft.recordStatus(DeviceStatus(device: "a", state: .failed, seq: 2, reason: .authFailed, ts: 5))
        let after = try #require(draft.state.devices["a"])
        #expect(after.state == .failed)
        #expect(after.statusReason == .authFailed)
        #expect(after.lastSeq == 2)
        #expect(after.envelope == "{\"seq\":2}")
        #expect(draft.state.scoped(to: .unacknowledged).devices.isEmpty)
    }
}
