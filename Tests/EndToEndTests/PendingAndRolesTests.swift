import FleetProtocol
import Foundation
import Synchronization
import Testing

@testable import Provisioning

/// A clock the test moves forward.
final class TestClock: Sendable {
    private let seconds = Mutex<Int64>(1_800_000_000)
    var now: Int64 { seconds.withLock { $0 } }
    func advance(_ by: Int64) { seconds.withLock { $0 += by } }
}

/// Issue 12: the pending table is bounded (cap and age limit), operators reject and purge pending
/// devices, and each operator may do only what its role allows.
@Suite("Pending limits and operator roles")
struct PendingAndRolesTests {
    @Test func helloOfANewIdBeyondTheCapIsCountedNotRecorded() async throws {
        let f = try EngineFixture(pendingLimits: PendingLimits(cap: 2, maxAge: 3600))
        let devices = (1...3).map { TestDevice(id: try! DeviceID("new-\($0)")) }
        for device in devices { _ = try await f.hello(device) }
        #expect(f.store.state.pending.keys.sorted() == ["new-1", "new-2"])
        // A known pending id is still updated at the cap.
        _ = try await f.hello(devices[0])
        #expect(f.store.state.pending["new-1"]?.helloCount == 2)
        let (status, _) = try await f.request(.status, NoArguments(), as: StatusResult.self)
        #expect(status.result?.pending == 2)
        #expect(status.result?.pendingCap == 2)
        #expect(status.result?.pendingMaxAge == 3600)
        #expect(status.result?.pendingRefused == 1)
        #expect(status.result?.role == .admin)
    }

    @Test func pendingDevicesPastTheAgeLimitAreForgotten() async throws {
        let clock = TestClock()
        let f = try EngineFixture(pendingLimits: PendingLimits(cap: 10, maxAge: 100), now: { clock.now })
        let old = TestDevice(id: "old")
        let fresh = TestDevice(id: "fresh")
        _ = try await f.hello(old)
        clock.advance(60)
        _ = try await f.hello(fresh)
        clock.advance(50)
        // Not swept yet: the listing already leaves it out.
        let (listed, _) = try await f.request(.pending, NoArguments(), as: PendingResult.self)
        #expect(listed.result?.pending.map(\.device) == ["fresh"])
        #expect(try await f.engine.expireStalePending() == 1)
        #expect(f.store.state.pending.keys.sorted() == ["fresh"])
        #expect(f.store.state.pendingCount == 1)
        #expect(try await f.engine.expireStalePending() == 0)
    }

    @Test func rejectRemovesOnePendingDeviceAndPurgeTheRest() async throws {
        let clock = TestClock()
        let f = try EngineFixture(now: { clock.now })
        for name in ["a", "b", "c"] { _ = try await f.hello(TestDevice(id: try DeviceID(name))) }
        clock.advance(30)
        _ = try await f.hello(TestDevice(id: "d"))

        let (rejected, actions) = try await f.request(.pendingReject, DeviceArgs(device: "a"), as: RejectResult.self)
        #expect(rejected.ok)
        #expect(events(actions) == ["device.rejected"])
        #expect(f.store.state.pending["a"] == nil)
        // Asked again (a new request id: the same bytes again would be a copy, answered like the first).
        let (again, _) = try await f.request(
            .pendingReject, DeviceArgs(device: "a"), as: RejectResult.self, correlation: "c0ffee02")
        #expect(again.error?.code == .notPending)

        let (quiet, _) = try await f.request(.pendingPurge, PurgeArgs(olderThan: 20), as: PurgeResult.self)
        #expect(quiet.result?.purged == 2)
        #expect(f.store.state.pending.keys.sorted() == ["d"])
        let (all, purgeActions) = try await f.request(.pendingPurge, PurgeArgs(), as: PurgeResult.self)
        #expect(all.result?.purged == 1)
        #expect(events(purgeActions) == ["pending.purged"])
        #expect(f.store.state.pending.isEmpty && f.store.state.pendingCount == 0)
    }

    @Test(arguments: [
        (OperatorRole.readOnly, OperatorOp.status, true), (.readOnly, .pending, true), (.readOnly, .profileList, true),
        (.readOnly, .enroll, false), (.readOnly, .pendingPurge, false), (.readOnly, .push, false),
        (.installer, .enroll, true), (.installer, .revoke, true), (.installer, .pendingReject, true),
        (.installer, .pendingPurge, true), (.installer, .approve, true), (.installer, .assign, false),
        (.installer, .push, false), (.installer, .profileAdd, false), (.installer, .profileRemove, false),
        (.admin, .push, true), (.admin, .profileAdd, true), (.admin, .enroll, true),
    ])
    func roleDecidesWhichOperationsRun(_ role: OperatorRole, _ op: OperatorOp, _ allowed: Bool) async throws {
        let f = try EngineFixture(roles: OperatorRoles(["bob": role], defaultRole: .readOnly))
        let payload = try MessageCodec.encode(
            OperatorRequest(id: "r1", op: op, replyTo: "bootstrap/v1/ops/reply/bob/r1", arguments: NoArguments()))
        let actions = try await f.operatorRequest(payload, from: "bob")
        guard case .reply(_, let bytes) = actions.last else { throw SiteError("no reply") }
        let reply = try MessageCodec.decode(OperatorReply.self, from: bytes)
        // Allowed ops may still fail on their (empty) arguments, but never with `forbidden`.
        #expect((reply.error?.code == .forbidden) == !allowed, "\(String(describing: reply.error))")
        if !allowed {
            #expect(reply.error?.message.contains("has role \(role.rawValue)") == true)
            #expect(actions.count == 1, "a forbidden request changes and publishes nothing")
        }
    }

    @Test func unlistedOperatorGetsTheDefaultRoleAndSeesItInStatus() async throws {
        let f = try EngineFixture(roles: OperatorRoles(["alice": .admin], defaultRole: .readOnly))
        let (status, _) = try await f.request(.status, NoArguments(), as: StatusResult.self, from: "carol")
        #expect(status.result?.role == .readOnly)
        let device = TestDevice(id: "omega-1")
        let (enrolled, actions) = try await f.request(
            .enroll, EnrollArgs(devices: [EnrollEntry(uri: device.uri, group: nil)]), as: EnrollResult.self,
            from: "carol")
        #expect(enrolled.error?.code == .forbidden)
        #expect(actions.isEmpty)
        #expect(f.store.state.devices.isEmpty)
    }
}

/// Issue 12, F1 at the engine: what provisiond publishes as a reply always fits the reply limit
/// (the shipped broker's `message_size_limit`), so the broker never refuses a reply and there is
/// nothing to resend.
@Suite("Replies fit the broker's limit")
struct ReplySizeTests {
    /// 1,400 hellos with distinct 64-character ids (the F1 reproduction): the default cap keeps 1000,
    /// and their listing is a page of 500 under the limit (then the next page).
    @Test func pendingListOfTheDefaultCapWithLongestIDsFitsOneReply() async throws {
        let f = try EngineFixture()
        for index in 0..<1400 {
            let id = try DeviceID(String(format: "%064d", index))
            _ = try await f.hello(TestDevice(id: id))
        }
        #expect(f.store.state.pendingCount == PendingLimits.standard.cap)
        let payload = try await replyPayload(f, .pending)
        #expect(payload.count <= OperatorReply.maxBytes)
        let reply = try TypedReply<PendingResult>(payload)
        #expect(reply.result?.pending.count == PageArgs.maxLimit && reply.result?.next != nil)
    }

    /// A status of more devices than one reply can list is answered with something that fits.
    @Test func replyTooLargeForTheLimitIsNeverPublished() async throws {
        var state = FleetState()
        for index in 0..<1500 {
            let id = String(format: "%064d", index)
            state.devices[id] = .enrolled(
                id: id, publicKey: Data(repeating: 9, count: 32), fingerprint: "0000-0000-0000-0000", group: "lab",
                now: 1)
        }
        let f = try EngineFixture(store: InMemoryStore(state))
        let payload = try await replyPayload(f, .status)
        #expect(payload.count <= OperatorReply.maxBytes)
        #expect(try MessageCodec.decode(OperatorReply.self, from: payload).id == "c0ffee01")
    }

    private func replyPayload(_ f: EngineFixture, _ op: OperatorOp) async throws -> [UInt8] {
        let payload = try MessageCodec.encode(
            OperatorRequest(
                id: "c0ffee01", op: op, replyTo: "bootstrap/v1/ops/reply/alice/c0ffee01", arguments: NoArguments()))
        guard case .reply(_, let bytes) = try await f.operatorRequest(payload, from: "alice").last else {
            throw SiteError("no reply")
        }
        return bytes
    }
}
