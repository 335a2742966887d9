import BrokerHarness
import FleetProtocol
import Foundation
import MQTT
import Synchronization
import Testing

/// A result must reach the broker even when the connection goes away while the agent applies (what
/// a radio switch or a broker restart does), and reach it exactly once.
@Suite("omega-agent outcome delivery", .serialized)
struct OutcomeDeliveryTests {
    @Test func nativeAgentDeliversOutcomeOnceAcrossBrokerRestart() async throws {
        try await outcomeSurvivesBrokerRestart(try .native())
    }

    @Test func mipselAgentDeliversOutcomeOnceAcrossBrokerRestart() async throws {
        try await outcomeSurvivesBrokerRestart(try .mipsel())
    }
}

/// The broker stops while the agent waits for the premises network (so the connection the `applying`
/// status went out on is gone) and comes back with its persistence while the agent, joined, tries to
/// reach it over the new network (an apply counts only once a broker accepts the device there): the
/// outcome arrives after the agent reconnects, exactly once, and neither a reconnect nor an agent
/// restart reports it again.
private func outcomeSurvivesBrokerRestart(_ binary: AgentBinary) async throws {
    let site = try await AgentSite(binary: binary, brokerPersistence: true, premisesJoinDelay: 3)
    var watcher: StatusWatcher?
    do {
        try site.startAgent()
        try await site.waitForStatus("online") { $0.state == .online }
        try await site.publishConfig(try site.seal(AgentSite.goodProfile, seq: 5))
        try await site.waitForStatus("applying 5") { $0.state == .applying && $0.seq == 5 }
        await site.broker.stop()
        let agent = try #require(site.agent)
        // joined: the agent's first attempt to reach the broker over the new network fails
        try await agent.waitForOutput(containing: "no connection", timeout: binary.patience)
        try await site.broker.restart()
        try await agent.waitForOutput(containing: "status applied seq 5", timeout: binary.patience)

        let w = try await StatusWatcher(site)
        watcher = w
        let applied = try await w.wait(binary.patience, "applied 5 after the restart") {
            $0.state == .applied && $0.seq == 5
        }
        #expect(applied.reason == nil)
        try await agent.waitForOutput(containing: "outcome of seq 5 acknowledged", timeout: binary.patience)
        #expect(agent.output().components(separatedBy: "status applying seq 5").count == 2, "applied twice")
        try await Task.sleep(for: .seconds(1))

        // A restarted agent gets the retained config again: the outcome was acknowledged, so it says nothing.
        #expect(await site.stopAgent() == 0)
        let seen = w.statuses().count
        try site.startAgent()
        try await w.wait(binary.patience, "online again", after: seen) { $0.state == .online }
        try await Task.sleep(for: .seconds(2))
        let results = w.statuses().filter { $0.seq == 5 && ($0.state == .applied || $0.state == .failed) }
        #expect(results.count == 1, "outcome reported \(results.count) times: \(w.statuses())")
        #expect(!w.statuses().contains { $0.state == .failed })
    } catch {
        await watcher?.close()
        await site.shutdown()
        throw error
    }
    await watcher?.close()
    await site.shutdown()
}

/// A monitor connected after the broker restart (the site's own monitor does not reconnect).
private final class StatusWatcher: Sendable {
    let client: MQTTClient
    let topic: String
    let inbox = Inbox()
    private let reader = Mutex<Task<Void, Never>?>(nil)

    init(_ site: AgentSite) async throws {
        topic = site.statusTopic
        client = MQTTClient(
            MQTTConfiguration(
                host: site.broker.host, port: site.broker.port, clientID: "watcher-\(UUID().uuidString.prefix(8))",
                reconnect: .disabled))
        try await client.connect()
        let stream = client.messages
        let inbox = self.inbox
        reader.withLock { $0 = Task { for await m in stream { inbox.append(m) } } }
        _ = try await client.subscribe(topic)
    }

    func statuses() -> [DeviceStatus] {
        inbox.all.filter { $0.topic == topic && !$0.payload.isEmpty }
            .compactMap { try? MessageCodec.decode(DeviceStatus.self, from: $0.payload) }
    }

    @discardableResult
    func wait(_ patience: Duration, _ what: String, after skip: Int = 0, _ predicate: (DeviceStatus) -> Bool)
        async throws -> DeviceStatus
    {
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline {
            if let s = statuses().dropFirst(skip).first(where: predicate) { return s }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw AgentTestError("no status \(what) within \(patience); saw \(statuses())")
    }

    func close() async {
        await client.disconnect()
        client.close()
        reader.withLock { $0?.cancel() }
    }
}
