import FleetProtocol
import MQTT

/// Watches what provisiond and the real agents do, on its own event loop: `device.applied` audit
/// events (provisiond registered a status) for every device, and the hello, config and status topics
/// of the real agents (whose insides the benchmark cannot instrument).
final class FleetMonitor: Sendable {
    private let client: MQTTClient
    private let reader: Task<Void, Never>

    /// - Parameter index: the timeline index of every device id.
    init(port: Int, prefix: String, timeline: Timeline, index: [String: Int], agents: [String]) async throws {
        client = MQTTClient(
            MQTTConfiguration(
                host: "127.0.0.1", port: port, clientID: "fleet-bench-monitor", reconnect: .disabled,
                messageBufferSize: 1 << 20), loop: MQTTEventLoop())
        try await client.connect()
        let tree = try TopicTree(prefix: prefix)
        let stream = client.messages
        reader = Task {
            for await message in stream {
                switch tree.route(message.topic) {
                case .events:
                    guard let event = try? MessageCodec.decode(AuditEvent.self, from: message.payload),
                        event.type == .deviceApplied, let device = event.device, let i = index[device.rawValue]
                    else { continue }
                    timeline.mark(.ingested, device: i, seq: event.seq ?? 0)
                case .hello(let id):
                    guard let i = index[id.rawValue], !message.payload.isEmpty else { continue }
                    timeline.mark(.hello, device: i)
                case .config(let id):
                    guard let i = index[id.rawValue], !message.payload.isEmpty else { continue }
                    let seq = (try? MessageCodec.decode(Envelope.self, from: message.payload))?.seq ?? 0
                    timeline.mark(.config, device: i, seq: seq)
                case .status(let id):
                    guard let i = index[id.rawValue],
                        let status = try? MessageCodec.decode(DeviceStatus.self, from: message.payload),
                        status.state == .applied, !message.retain
                    else { continue }
                    timeline.mark(.applied, device: i, seq: status.seq)
                default:
                    continue
                }
            }
        }
        _ = try await client.subscribe(tree.events)
        for agent in agents {
            let id = try DeviceID(agent)
            for topic in [tree.hello(id), tree.config(id), tree.status(id)] { _ = try await client.subscribe(topic) }
        }
    }

    /// Messages the monitor's client dropped (its buffer overflowed): its figures are then incomplete.
    var dropped: Int { client.droppedMessageCount }

    func stop() async {
        await client.disconnect()
        client.close()
        reader.cancel()
    }
}
