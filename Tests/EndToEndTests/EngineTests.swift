import Crypto
import FleetProtocol
import Foundation
import Provisioning
import Testing

/// A device key pair as a test device holds it.
struct TestDevice {
    let id: DeviceID
    let key = Curve25519.KeyAgreement.PrivateKey()
    var publicKey: Data { key.publicKey.rawRepresentation }
    var uri: String { (try? BootstrapURI(deviceID: id, publicKey: key.publicKey))?.string ?? "" }
}

/// Device ids written as literals in tests; an invalid literal is a bug in the test.
extension DeviceID: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) {
        do { try self.init(value) } catch { fatalError("invalid device id literal '\(value)' in a test") }
    }
}

/// A final operator reply with its result decoded.
struct TypedReply<Result: Decodable> {
    var ok: Bool
    var result: Result?
    var error: OperatorError?

    init(_ payload: [UInt8]) throws {
        let reply = try MessageCodec.decode(OperatorReply.self, from: payload)
        ok = reply.ok ?? false
        error = reply.error
        result = ok ? try reply.decodeResult(Result.self) : nil
    }
}

/// The engine over the in-memory store (the registry's test double), with real FleetProtocol crypto
/// and a fixed clock.
struct EngineFixture {
    let service = ServiceIdentity(privateKey: Curve25519.KeyAgreement.PrivateKey())
    let store: InMemoryStore
    let engine: ProvisioningEngine

    init(
        store: InMemoryStore = InMemoryStore(), roles: OperatorRoles = OperatorRoles(["alice": .admin]),
        pendingLimits: PendingLimits = .standard, now: @escaping @Sendable () -> Int64 = { 1_800_000_000 }
    ) throws {
        self.store = store
        engine = ProvisioningEngine(
            store: store, identity: service, topics: try TopicTree(prefix: "bootstrap"), roles: roles,
            pendingLimits: pendingLimits, now: now)
    }

    func hello(_ device: TestDevice) async throws -> [EngineAction] {
        try await engine.handle(.hello(device: device.id, publicKey: device.publicKey))
    }

    func reconcile() async throws -> [EngineAction] { try await engine.handle(.connected) }

    func operatorRequest(_ payload: [UInt8], from operatorName: String) async throws -> [EngineAction] {
        try await engine.handle(.operatorRequest(payload: payload, from: operatorName))
    }

    /// The stored record of `id`.
    func device(_ id: DeviceID) -> DeviceRecord? { store.state.devices[id.rawValue] }

    /// Sends an operator request and returns the decoded final reply plus the other actions.
    func request<Result: Decodable>(
        _ op: OperatorOp, _ args: some Encodable, as: Result.Type, correlation: String = "c0ffee01",
        from operatorName: String = "alice"
    ) async throws -> (reply: TypedReply<Result>, actions: [EngineAction]) {
        let replyTo = "bootstrap/v1/ops/reply/\(operatorName)/\(correlation)"
        let payload = try MessageCodec.encode(
            OperatorRequest(id: correlation, op: op, replyTo: replyTo, arguments: args))
        var actions = try await operatorRequest(payload, from: operatorName)
        guard case .reply(let topic, let bytes) = actions.popLast() else {
            throw SiteError("no reply among \(actions)")
        }
        #expect(topic == replyTo)
        return (try TypedReply(bytes), actions)
    }

    /// The engine's answer to a status report from `device`.
    func report(
        _ device: DeviceID, _ state: DeviceState, seq: UInt64, reason: ReasonCode? = nil
    ) async throws -> [EngineAction] {
        try await engine.handle(
            .status(DeviceStatus(device: device, state: state, seq: seq, reason: reason, ts: 1_800_000_000)))
    }

    func enroll(_ devices: [TestDevice], group: String?) async throws {
        let (reply, _) = try await request(
            .enroll, EnrollArgs(devices: devices.map { EnrollEntry(uri: $0.uri, group: group) }), as: EnrollResult.self)
        #expect(reply.ok, "\(String(describing: reply.error))")
    }

    /// Enrolls the devices into group "lab" and assigns the `officeProfile` to that group.
    func enrollWithOfficeAssigned(_ devices: [TestDevice]) async throws {
        try await enroll(devices, group: "lab")
        #expect(try await addProfile("office", officeProfile).ok)
        let (assigned, _) = try await request(
            .assign, AssignArgs(profile: "office", devices: nil, group: "lab"), as: AssignResult.self)
        #expect(assigned.ok, "\(String(describing: assigned.error))")
    }

    func addProfile(_ name: String, _ profile: WiFiProfile, correlation: String = "abc123") async throws
        -> TypedReply<ProfileAddResult>
    {
        try await addProfile(name, json: MessageCodec.encode(profile), correlation: correlation)
    }

    func addProfile(_ name: String, json: [UInt8], correlation: String = "abc123") async throws
        -> TypedReply<ProfileAddResult>
    {
        let sealed = try OperatorSecretBox.seal(json, correlation: correlation, servicePublicKey: service.publicKey)
        return try await request(
            .profileAdd, ProfileAddArgs(name: name, sealed: sealed), as: ProfileAddResult.self, correlation: correlation
        ).reply
    }

    func open(_ payload: [UInt8], for device: TestDevice) throws -> OpenedEnvelope {
        try EnvelopeCrypto.open(
            payload: payload, device: device.id, devicePrivateKey: device.key,
            servicePublicKey: service.publicKey)
    }
}

func configs(_ actions: [EngineAction]) -> [(device: DeviceID, payload: [UInt8])] {
    actions.compactMap { if case .publishConfig(let d, let p) = $0 { return (d, p) } else { return nil } }
}

func events(_ actions: [EngineAction]) -> [String] {
    actions.compactMap { if case .publishEvent(let r) = $0 { return r.type.rawValue } else { return nil } }
}

let officeProfile = WiFiProfile(ssid: "Office", encryption: .psk2, key: "correct horse battery")

@Suite("Provisioning engine")
struct EngineTests {
    @Test func enrolledDeviceGetsItsGroupProfileSealedToItsOwnKey() async throws {
        let f = try EngineFixture()
        let device = TestDevice(id: "omega-1")
        try await f.enroll([device], group: "lab")
        #expect(try await f.addProfile("office", officeProfile).ok)
        #expect(
            try await f.request(
                .assign, AssignArgs(profile: "office", devices: nil, group: "lab"), as: AssignResult.self
            )
            .reply.ok)

        let actions = try await f.hello(device)
        let published = configs(actions)
        #expect(published.count == 1)
        let opened = try f.open(published[0].payload, for: device)
        #expect(opened.envelope.seq == 1)
        #expect(opened.envelope.kind == .wifi)
        #expect(try MessageCodec.decode(WiFiProfile.self, from: opened.plaintext) == officeProfile)
        #expect(events(actions) == ["config.sealed"])
    }

    @Test func repeatedHelloMintsNoNewEnvelope() async throws {
        let f = try EngineFixture()
        let device = TestDevice(id: "omega-1")
        try await f.enroll([device], group: "lab")
        _ = try await f.addProfile("office", officeProfile)
        _ = try await f.request(
            .assign, AssignArgs(profile: "office", devices: [device.id], group: nil), as: AssignResult.self)
        let first = configs(try await f.hello(device))
        #expect(first.count == 1)
        // Unacknowledged yet: the retained envelope is the device's; nothing is republished live.
        #expect(try await f.hello(device).isEmpty)
        _ = try await f.report(device.id, .applied, seq: 1)
        #expect(try await f.hello(device).isEmpty)
        #expect(f.device(device.id)?.lastSeq == 1)
    }

    @Test func changedProfileGetsANewSeqOnNextHello() async throws {
        let f = try EngineFixture()
        let device = TestDevice(id: "omega-1")
        try await f.enrollWithOfficeAssigned([device])
        _ = try await f.hello(device)
        _ = try await f.report(device.id, .applied, seq: 1)
        _ = try await f.addProfile(
            "office", WiFiProfile(ssid: "Office2", encryption: .psk2, key: "another passphrase"), correlation: "second")
        let published = configs(try await f.hello(device))
        #expect(try published.map { try f.open($0.payload, for: device).envelope.seq } == [2])
    }

    @Test func unknownDeviceIsRecordedPendingAndGetsNothing() async throws {
        let f = try EngineFixture()
        let stranger = TestDevice(id: "stranger")
        let actions = try await f.hello(stranger)
        #expect(configs(actions).isEmpty)
        #expect(events(actions) == ["device.pending"])
        #expect(try await f.hello(stranger).isEmpty)
        let pending = try await f.request(.pending, NoArguments(), as: PendingResult.self).reply.result?.pending
        #expect(pending?.map(\.fingerprint) == [Fingerprint.of(stranger.key.publicKey)])
        #expect(pending?.map(\.hellos) == [2])
    }

    @Test func helloWithAnotherKeyGetsNothing() async throws {
        let f = try EngineFixture()
        let device = TestDevice(id: "omega-1")
        try await f.enrollWithOfficeAssigned([device])
        let impostor = TestDevice(id: "omega-1")
        let actions = try await f.hello(impostor)
        #expect(configs(actions).isEmpty)
        #expect(events(actions) == ["device.key_mismatch"])
    }

    @Test func approveWithWrongFingerprintChangesNothing() async throws {
        let f = try EngineFixture()
        let device = TestDevice(id: "late")
        _ = try await f.hello(device)
        let refused = try await f.request(
            .approve, ApproveArgs(device: device.id, group: nil, fingerprint: "0000-0000-0000-0000"),
            as: DeviceSummary.self)
        #expect(refused.reply.error?.code == .fingerprintMismatch)
        #expect(f.device(device.id) == nil)
        let approved = try await f.request(
            .approve, ApproveArgs(device: device.id, group: "lab", fingerprint: Fingerprint.of(device.key.publicKey)),
            as: DeviceSummary.self)
        #expect(approved.reply.result?.group == "lab")
    }

    @Test func approveWithoutFingerprintIsRefusedWithAHint() async throws {
        let f = try EngineFixture()
        let device = TestDevice(id: "late")
        _ = try await f.hello(device)
        let refused = try await f.request(.approve, ["device": device.id], as: DeviceSummary.self)
        #expect(refused.reply.error?.code == .badRequest)
        #expect(refused.reply.error?.message.contains("fleetctl pending") == true)
        #expect(f.device(device.id) == nil)
    }

    @Test func approveAfterThePendingKeyWasReplacedEnrollsNothing() async throws {
        let f = try EngineFixture()
        let device = TestDevice(id: "late")
        let attacker = TestDevice(id: "late")
        _ = try await f.hello(device)
        let (listed, _) = try await f.request(.pending, NoArguments(), as: PendingResult.self)
        let shown = try #require(listed.result?.pending.first?.fingerprint)
        #expect(shown == Fingerprint.of(device.key.publicKey))
        // Between `pending` and `approve` the attacker's hello replaces the pending key.
        _ = try await f.hello(attacker)
        let refused = try await f.request(
            .approve, ApproveArgs(device: device.id, group: nil, fingerprint: shown), as: DeviceSummary.self)
        #expect(refused.reply.ok == false)
        #expect(refused.actions.isEmpty)
        #expect(f.device(device.id) == nil)
        // The real key saying hello again does not help: two keys were seen for that id.
        _ = try await f.hello(device)
        let (relisted, _) = try await f.request(.pending, NoArguments(), as: PendingResult.self)
        #expect(
            relisted.result?.pending.first?.keysSeen
                == [Fingerprint.of(device.key.publicKey), Fingerprint.of(attacker.key.publicKey)])
        let conflicting = try await f.request(
            .approve, ApproveArgs(device: device.id, group: nil, fingerprint: shown), as: DeviceSummary.self)
        #expect(conflicting.reply.error?.code == .conflictingKeys)
        #expect(conflicting.reply.error?.message.contains(Fingerprint.of(attacker.key.publicKey)) == true)
        #expect(conflicting.actions.isEmpty)
        #expect(f.device(device.id) == nil)
    }

    @Test func pushSealsANewSeqForEveryDeviceOfTheGroup() async throws {
        let f = try EngineFixture()
        let devices = [TestDevice(id: "a"), TestDevice(id: "b"), TestDevice(id: "c")]
        try await f.enrollWithOfficeAssigned(devices)
        let (reply, actions) = try await f.request(.push, PushArgs(devices: nil, group: "lab"), as: PushResult.self)
        #expect(reply.result?.pushed.map(\.device) == ["a", "b", "c"])
        #expect(reply.result?.pushed.map(\.seq) == [1, 1, 1])
        let published = configs(actions)
        for (device, entry) in zip(devices, published) {
            #expect(entry.device == device.id)
            #expect(try f.open(entry.payload, for: device).envelope.seq == 1)
        }
    }

    @Test func pushWithoutAssignedProfileFailsAndSealsNothing() async throws {
        let f = try EngineFixture()
        try await f.enroll([TestDevice(id: "a")], group: "lab")
        let (reply, actions) = try await f.request(.push, PushArgs(devices: ["a"], group: nil), as: PushResult.self)
        #expect(reply.error?.code == .noProfileAssigned)
        #expect(actions.isEmpty)
        #expect(f.device("a")?.lastSeq == 0)
    }

    @Test func invalidProfileIsRefusedWithEveryIssue() async throws {
        let f = try EngineFixture()
        let reply = try await f.addProfile("bad", json: Array(#"{"ssid":"","encryption":"psk2","key":"short"}"#.utf8))
        #expect(reply.error?.code == .invalidProfile)
        #expect(reply.error?.message.contains("ssid") == true)
        #expect(reply.error?.message.contains("key") == true)
        #expect(reply.error?.message.contains("short") == false, "the key must not be echoed")
        #expect(f.store.state.profiles.isEmpty)
    }

    @Test func secretSealedForAnotherRequestIsRefused() async throws {
        let f = try EngineFixture()
        let sealed = try OperatorSecretBox.seal(
            MessageCodec.encode(officeProfile), correlation: "first", servicePublicKey: f.service.publicKey)
        let reply = try await f.request(
            .profileAdd, ProfileAddArgs(name: "office", sealed: sealed), as: ProfileAddResult.self,
            correlation: "replayed"
        ).reply
        #expect(reply.error?.code == .sealedSecret)
    }

    @Test(arguments: [
        (
            #"{"v":1,"id":"r1","op":"frobnicate","reply_to":"bootstrap/v1/ops/reply/alice/r1","args":{}}"#,
            OperatorErrorCode.unknownOp
        ),
        (
            #"{"v":1,"id":"r1","op":"revoke","reply_to":"bootstrap/v1/ops/reply/alice/r1","args":{}}"#,
            OperatorErrorCode.badRequest
        ),
        (
            #"{"v":2,"id":"r1","op":"status","reply_to":"bootstrap/v1/ops/reply/alice/r1","args":{}}"#,
            OperatorErrorCode.badRequest
        ),
        (
            #"{"v":1,"id":"r1","op":"revoke","reply_to":"bootstrap/v1/ops/reply/alice/r1","args":{"device":"ghost"}}"#,
            OperatorErrorCode.unknownDevice
        ),
        (
            #"{"v":1,"id":"r1","op":"revoke","reply_to":"bootstrap/v1/ops/reply/alice/r1","args":{"device":"a/b"}}"#,
            OperatorErrorCode.invalidDeviceID
        ),
        (
            #"{"v":1,"id":"r1","op":"enroll","reply_to":"bootstrap/v1/ops/reply/alice/r1","args":{"devices":[{"uri":"FB1:I:x;;"}]}}"#,
            OperatorErrorCode.invalidURI
        ),
        (
            #"{"v":1,"id":"r1","op":"assign","reply_to":"bootstrap/v1/ops/reply/alice/r1","args":{"profile":"nope","group":"lab"}}"#,
            OperatorErrorCode.unknownProfile
        ),
    ])
    func malformedOrUnknownRequestsGetAClearErrorAndChangeNothing(_ request: String, _ code: OperatorErrorCode)
        async throws
    {
        let f = try EngineFixture()
        let actions = try await f.operatorRequest(Array(request.utf8), from: "alice")
        #expect(actions.count == 1)
        guard case .reply(_, let payload) = actions.first else { throw SiteError("no reply") }
        let reply = try TypedReply<NoArguments>(payload)
        #expect(reply.ok == false)
        #expect(reply.error?.code == code)
        #expect(f.store.state.devices.isEmpty)
        #expect(f.store.auditLog.isEmpty)
    }

    @Test func requestWithoutValidIDIsDropped() async throws {
        let f = try EngineFixture()
        for text in [
            "not json", #"{"v":1,"id":"r/1","op":"status","reply_to":"bootstrap/v1/ops/reply/alice/r/1","args":{}}"#,
        ] {
            #expect(try await f.operatorRequest(Array(text.utf8), from: "alice").isEmpty)
        }
        #expect(
            try await f.operatorRequest(Array(#"{"v":1,"id":"r1","op":"status","reply_to":"x"}"#.utf8), from: "a/b")
                .isEmpty)
    }

    @Test(arguments: [
        "bootstrap/v1/ops/reply/bob/r1", "elsewhere/r1", "bootstrap/v1/ops/reply/alice/other",
        "bootstrap/v1/ops/reply/alice/r1/x", "bootstrap/v1/devices/omega-1/config",
    ])
    func requestWhoseReplyToIsNotTheRequestersOwnIsRefused(_ replyTo: String) async throws {
        let f = try EngineFixture()
        let device = TestDevice(id: "omega-1")
        // alice (the topic says so) asks for an enrollment and the replies on bob's topic
        let payload = try MessageCodec.encode(
            OperatorRequest(
                id: "r1", op: .enroll, replyTo: replyTo,
                arguments: EnrollArgs(devices: [EnrollEntry(uri: device.uri, group: nil)])))
        let actions = try await f.operatorRequest(payload, from: "alice")
        let replies = actions.compactMap { if case .reply(let t, let p) = $0 { return (t, p) } else { return nil } }
        #expect(replies.count == 1)
        #expect(!replies.contains { $0.0 == replyTo })
        let (topic, bytes) = try #require(replies.first)
        #expect(topic == "bootstrap/v1/ops/reply/alice/r1")
        let reply = try TypedReply<NoArguments>(bytes)
        #expect(reply.error?.code == .replyToMismatch)
        #expect(events(actions) == ["ops.rejected"])
        #expect(f.store.auditLog.map(\.operatorName) == ["alice"])
        #expect(f.store.state.devices.isEmpty)
        #expect(!actions.contains { if case .registerBrokerAccount = $0 { return true } else { return false } })
    }

    @Test func manifestWithOneBadLineEnrollsNobody() async throws {
        let f = try EngineFixture()
        let args = EnrollArgs(devices: [
            EnrollEntry(uri: TestDevice(id: "ok").uri, group: nil), EnrollEntry(uri: "FB1:garbage", group: nil),
        ])
        let reply = try await f.request(.enroll, args, as: EnrollResult.self).reply
        #expect(reply.error?.code == .invalidURI)
        #expect(reply.error?.message.hasPrefix("entry 2") == true)
        #expect(f.store.state.devices.isEmpty)
    }

    @Test func revokePublishesARetainedResetAndClearsItOnceConfirmed() async throws {
        let f = try EngineFixture()
        let device = TestDevice(id: "omega-1")
        try await f.enroll([device], group: "lab")
        let (reply, actions) = try await f.request(.revoke, DeviceArgs(device: device.id), as: RevokeResult.self)
        #expect(reply.result?.seq == 1)
        #expect(actions.first == .clearConfig(device: device.id))
        let reset = try f.open(configs(actions)[0].payload, for: device)
        #expect(reset.envelope.kind == .reset)
        #expect(try MessageCodec.decode(ResetCommand.self, from: reset.plaintext).reason == "revoked")
        // Retained for the device; republished after a service (re)connect until confirmed.
        #expect(try await f.hello(device).isEmpty)
        #expect(configs(try await f.reconcile()).count == 1)
        let confirmed = try await f.report(device.id, .reset, seq: 1)
        #expect(confirmed.first == .clearConfig(device: device.id))
        #expect(try await f.reconcile().isEmpty)
        #expect(f.device(device.id)?.state == .revoked)
    }

    @Test func reconcileRepublishesOnlyUnacknowledgedEnvelopes() async throws {
        let f = try EngineFixture()
        let devices = [TestDevice(id: "a"), TestDevice(id: "b")]
        try await f.enrollWithOfficeAssigned(devices)
        for d in devices { _ = try await f.hello(d) }
        _ = try await f.report("a", .applied, seq: 1)
        #expect(configs(try await f.reconcile()).map(\.device) == ["b"])
    }

    @Test func replayReportForAnAppliedDeviceDoesNotMarkItFailed() async throws {
        let f = try EngineFixture()
        let device = TestDevice(id: "a")
        try await f.enrollWithOfficeAssigned([device])
        _ = try await f.hello(device)
        _ = try await f.report("a", .applied, seq: 1)
        _ = try await f.report("a", .failed, seq: 1, reason: .replay)
        #expect(f.device("a")?.state == .applied)
    }

    /// Topics.md, "Revoke": enrolling a revoked id again starts over with the new key, but seqs keep
    /// increasing, and `status` shows the reset until the device reports again.
    @Test func reenrollingARevokedDeviceKeepsSeqsIncreasing() async throws {
        let f = try EngineFixture()
        let old = TestDevice(id: "b")
        try await f.enrollWithOfficeAssigned([old])
        _ = try await f.hello(old)
        _ = try await f.report("b", .applied, seq: 1)
        let (revoked, _) = try await f.request(.revoke, DeviceArgs(device: "b"), as: RevokeResult.self)
        #expect(revoked.result?.seq == 2)
        _ = try await f.report("b", .reset, seq: 2)

        let renewed = TestDevice(id: "b")
        try await f.enroll([renewed], group: nil)
        let (status, _) = try await f.request(.status, NoArguments(), as: StatusResult.self, correlation: "st")
        let row = try #require(status.result?.devices.first { $0.device == "b" })
        #expect(row.state == .enrolled && row.seq == 2 && row.lastStatus == .reset && row.group == "lab")
        #expect(row.profile == "office")

        _ = try await f.hello(renewed)
        #expect(f.device("b")?.lastSeq == 3)
        #expect(f.device("b")?.state == .sent)
    }

    @Test func brokerAccountsFollowEnrollmentAndConfirmedRevocation() async throws {
        let f = try EngineFixture()
        let device = TestDevice(id: "omega-1")
        let args = EnrollArgs(devices: [EnrollEntry(uri: device.uri, group: "lab")])
        let first = try await f.request(.enroll, args, as: EnrollResult.self).actions
        #expect(first.contains(.registerBrokerAccount(device: device.id, publicKey: device.publicKey)))
        let again = try await f.request(.enroll, args, as: EnrollResult.self, correlation: "again").actions
        #expect(!again.contains { if case .registerBrokerAccount = $0 { true } else { false } })

        _ = try await f.request(.revoke, DeviceArgs(device: device.id), as: RevokeResult.self)
        let confirmed = try await f.report(device.id, .reset, seq: 1)
        #expect(confirmed.contains(.removeBrokerAccount(device: device.id)))

        let renewed = TestDevice(id: "omega-1")
        let reenrolled = try await f.request(
            .enroll, EnrollArgs(devices: [EnrollEntry(uri: renewed.uri, group: "lab")]), as: EnrollResult.self,
            correlation: "renewed"
        ).actions
        #expect(
            Array(reenrolled.prefix(2)) == [
                .removeBrokerAccount(device: device.id),
                .registerBrokerAccount(device: device.id, publicKey: renewed.publicKey),
            ])
    }
}
