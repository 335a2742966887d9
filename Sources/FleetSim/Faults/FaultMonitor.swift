import FleetProtocol
import Foundation
import MQTT
import Synchronization

/// Watches the service status and the real agents' statuses on its own client (reconnecting, so it
/// survives a broker restart), and publishes the duplicates of the duplicate-delivery scenario.
final class FaultMonitor: Sendable {
    struct Seen: Sendable, Hashable {
        var topic: String
        var state: String
        var seq: UInt64
        var retained: Bool
    }

    let client: MQTTClient
    let tree: TopicTree
    private let seen = SeenLog()
    private let reader: Task<Void, Never>

    init(port: Int, prefix: String, agents: [String]) async throws {
        client = MQTTClient(
            MQTTConfiguration(
                host: "127.0.0.1", port: port, clientID: "fault-monitor-\(UUID().uuidString.prefix(8))",
                reconnect: MQTTReconnectPolicy(minDelay: .milliseconds(100), maxDelay: .seconds(2)),
                messageBufferSize: 1 << 16), loop: MQTTEventLoop())
        tree = try TopicTree(prefix: prefix)
        let stream = client.messages
        reader = Task { [seen] in
            for await message in stream {
                guard let object = try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any]
                else { continue }
                // A status has a state; an operator reply is final (ok true or false) or progress.
                let final = (object["ok"] as? Bool).map { $0 ? "ok" : "error" }
                guard let state = object["state"] as? String ?? final ?? (object["progress"] != nil ? "progress" : nil)
                else { continue }
                let seq = (object["seq"] as? NSNumber)?.uint64Value ?? 0
                seen.append(Seen(topic: message.topic, state: state, seq: seq, retained: message.retain))
            }
        }
        try await client.connect()
        _ = try await client.subscribe(tree.serviceStatus)
        _ = try await client.subscribe(try tree.opsReplyFilter(operator: Self.operatorName))
        for agent in agents { _ = try await client.subscribe(tree.status(try DeviceID(agent))) }
    }

    /// The operator name the duplicate requests come from.
    static let operatorName = "faults"

    /// Final replies (`ok` or `error`) seen on `topic`.
    func finalReplies(on topic: String) -> [String] {
        all().filter { $0.topic == topic && ($0.state == "ok" || $0.state == "error") }.map(\.state)
    }

    /// Every status seen so far, in arrival order.
    func all() -> [Seen] { seen.all }

    /// States published live (not a retained re-delivery) on the service status topic.
    func serviceStates() -> [String] { all().filter { $0.topic == tree.serviceStatus && !$0.retained }.map(\.state) }

    func sawStatus(of device: String, state: String) -> Bool {
        guard let id = try? DeviceID(device) else { return false }
        let topic = tree.status(id)
        return all().contains { $0.topic == topic && $0.state == state && !$0.retained }
    }

    /// Publishes `payload` twice with the same bytes: what a QoS 1 redelivery looks like to the receiver.
    func publishTwice(_ topic: String, _ payload: [UInt8], retain: Bool = false) async throws {
        for _ in 0..<2 { try await client.publish(topic, payload: payload, qos: .atLeastOnce, retain: retain) }
    }

    func stop() async {
        await client.disconnect()
        client.close()
        reader.cancel()
    }
}

/// The statuses a ``FaultMonitor`` saw, in arrival order.
private final class SeenLog: Sendable {
    private let entries = Mutex<[FaultMonitor.Seen]>([])
    func append(_ entry: FaultMonitor.Seen) { entries.withLock { $0.append(entry) } }
    var all: [FaultMonitor.Seen] { entries.withLock { $0 } }
}

/// Per device, how often each seq was applied, as the devices report it (`SimulationEvent`).
final class ApplyTracker: Sendable {
    private let applied = Mutex<[String: [UInt64]]>([:])
    private let configs = Mutex(0)

    func record(_ device: String, _ event: SimulationEvent) {
        switch event {
        case .configReceived: configs.withLock { $0 += 1 }
        case .applied(let seq), .reset(let seq): applied.withLock { $0[device, default: []].append(seq) }
        case .failed: break
        }
    }

    var configsReceived: Int { configs.withLock { $0 } }

    /// Applies that were not newer than the device's previous one: the same seq twice, or an old one.
    var doubleApplies: Int {
        applied.withLock { all in
            all.values.reduce(0) { total, seqs in
                total + zip(seqs, seqs.dropFirst()).filter { $0.1 <= $0.0 }.count
            }
        }
    }
}
