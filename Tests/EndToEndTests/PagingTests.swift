import Crypto
import FleetProtocol
import Foundation
import Testing

@testable import Provisioning

/// The ops whose answer grows with the fleet answer in pages within the reply limit.
@Suite("Paged replies")
struct PagingTests {
    /// An id of 64 characters (the longest allowed), distinct per `n`.
    static func longID(_ prefix: String, _ n: Int) -> String {
        let head = "\(prefix)-\(String(format: "%07d", n))-"
        return head + String(repeating: "x", count: 64 - head.count)
    }

    static let key = Curve25519.KeyAgreement.PrivateKey().publicKey

    static func device(_ n: Int, group: String) -> DeviceRecord {
        DeviceRecord.enrolled(
            id: longID("dev", n), publicKey: key.rawRepresentation, fingerprint: Fingerprint.of(key), group: group,
            now: 1_800_000_000)
    }

    static func pending(_ n: Int) -> PendingDeviceRecord {
        let fingerprint = Fingerprint.of(key)
        return PendingDeviceRecord(
            id: longID("new", n), publicKey: key.rawRepresentation, fingerprint: fingerprint,
            firstSeen: 1_800_000_000, lastSeen: 1_800_000_000, helloCount: 1_000_000,
            seenFingerprints: Array(repeating: fingerprint, count: 8).joined(separator: ","))
    }

    /// Sends `op` with `args` to `engine` and returns the raw reply payload.
    static func reply(_ engine: ProvisioningEngine, _ op: OperatorOp, _ args: some Encodable, id: String) async throws
        -> [UInt8]
    {
        let payload = try MessageCodec.encode(
            OperatorRequest(id: id, op: op, replyTo: "bootstrap/v1/ops/reply/alice/\(id)", arguments: args))
        guard
            case .reply(_, let bytes) = try await engine.handle(.operatorRequest(payload: payload, from: "alice")).last
        else { throw SiteError("no reply to \(op)") }
        return bytes
    }

    /// Every page of `op`, checking each reply's size; returns the ids in the order listed.
    static func gather<Result: Decodable>(
        _ engine: ProvisioningEngine, _ op: OperatorOp, as: Result.Type, ids: (Result) -> [String],
        next: (Result) -> DeviceID?
    ) async throws -> (ids: [String], pages: Int) {
        var all: [String] = []
        var after: DeviceID?
        var pages = 0
        repeat {
            let bytes = try await reply(engine, op, PageArgs(after: after), id: "p\(pages)")
            #expect(bytes.count <= OperatorReply.maxBytes)
            let result = try #require(try TypedReply<Result>(bytes).result)
            all += ids(result)
            after = next(result)
            pages += 1
        } while after != nil
        return (all, pages)
    }

    @Test func statusAndPendingOfTheLongestRowsComeInPagesWithinTheReplyLimit() async throws {
        let group = String(repeating: "g", count: 64)
        let devices = (0..<1_201).map { Self.device($0, group: group) }
        let entries = (0..<1_201).map { Self.pending($0) }
        let state = FleetState(
            devices: Dictionary(uniqueKeysWithValues: devices.map { ($0.id, $0) }),
            pending: Dictionary(uniqueKeysWithValues: entries.map { ($0.id, $0) }))
        let f = try EngineFixture(store: InMemoryStore(state))
        let status = try await Self.gather(
            f.engine, .status, as: StatusResult.self, ids: { $0.devices.map(\.device.rawValue) }, next: \.next)
        #expect(status.ids == state.devices.keys.sorted())
        #expect(status.pages == 3)
        let pending = try await Self.gather(
            f.engine, .pending, as: PendingResult.self, ids: { $0.pending.map(\.device.rawValue) }, next: \.next)
        #expect(pending.ids == state.pending.keys.sorted())
        // A page of 500 of the largest status rows, and the pending count next to it.
        let first = try TypedReply<StatusResult>(
            try await Self.reply(f.engine, .status, PageArgs(limit: 10), id: "small")
        ).result
        #expect(first?.devices.count == 10 && first?.pending == 1_201 && first?.next?.rawValue == Self.longID("dev", 9))
    }

    @Test func aRegistryOf100000DevicesIsListedPageByPage() async throws {
        let t = try TemporaryRegistry()
        defer { t.remove() }
        let devices = (0..<100_000).map { Self.device($0, group: "lab") }
        let pending = (0..<2_000).map { Self.pending($0) }
        try await t.registry.write(devices.map(StateChange.saveDevice) + pending.map(StateChange.savePending))
        let f = try EngineFixture()
        let engine = try t.engine(sealingWith: f)
        let status = try await Self.gather(
            engine, .status, as: StatusResult.self, ids: { $0.devices.map(\.device.rawValue) }, next: \.next)
        #expect(status.ids == devices.map(\.id))
        #expect(status.pages == 200)
        #expect(
            try TypedReply<StatusResult>(try await Self.reply(engine, .status, PageArgs(), id: "n")).result?.pending
                == 2_000)
        let listed = try await Self.gather(
            engine, .pending, as: PendingResult.self, ids: { $0.pending.map(\.device.rawValue) }, next: \.next)
        #expect(listed.ids == pending.map(\.id))
    }

    @Test func aGroupPushGoesAPageAtATimeAndSealsEachDeviceOnce() async throws {
        let f = try EngineFixture()
        let devices = try (0..<1_050).map { TestDevice(id: try DeviceID(Self.longID("dev", $0))) }
        for chunk in stride(from: 0, to: devices.count, by: 100) {
            try await f.enroll(Array(devices[chunk..<min(chunk + 100, devices.count)]), group: "lab")
        }
        #expect(try await f.addProfile("office", officeProfile).ok)
        // The group's assignment is answered with its size, not its members (any number of them).
        let (assigned, _) = try await f.request(
            .assign, AssignArgs(profile: "office", devices: nil, group: "lab"), as: AssignResult.self)
        #expect(assigned.result == AssignResult(profile: "office", devices: nil, group: "lab", count: 1_050))
        var pushed: [String] = []
        var after: DeviceID?
        var pages = 0
        repeat {
            let (reply, actions) = try await f.request(
                .push, PushArgs(devices: nil, group: "lab", after: after), as: PushResult.self, correlation: "p\(pages)"
            )
            let result = try #require(reply.result)
            #expect(configs(actions).map(\.device) == result.pushed.map(\.device))
            pushed += result.pushed.map(\.device.rawValue)
            after = result.next
            pages += 1
        } while after != nil
        #expect(pages == 3)
        #expect(pushed == devices.map(\.id.rawValue).sorted())
        #expect(f.store.state.devices.values.allSatisfy { $0.lastSeq == 1 })
    }
}
