import BrokerHarness
import FleetSim
import Foundation
import MQTT
import Testing

/// A staging site for one test (see FleetSim's `FleetSite`).
typealias Site = FleetSite

/// Polls `condition` until it holds or `timeout` passes.
func eventually(
    timeout: Duration = .seconds(30), _ what: String, _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw SiteError("timed out waiting for \(what)")
}

/// Records every message seen on `#` for the whole test, to search payloads for secrets.
final class Eavesdropper: Sendable {
    private let client: MQTTClient
    private let store = MessageStore()
    private let task: Task<Void, Never>

    init(port: Int) async throws {
        client = MQTTClient(
            MQTTConfiguration(host: "127.0.0.1", port: port, clientID: "eavesdropper-\(UUID().uuidString.prefix(8))"))
        try await client.connect()
        let messages = client.messages
        let store = self.store
        task = Task {
            for await message in messages { await store.append(message) }
        }
        _ = try await client.subscribe("#")
    }

    func messages() async -> [MQTTMessage] { await store.messages }

    func stop() async {
        await client.disconnect()
        client.close()
        task.cancel()
    }
}

actor MessageStore {
    var messages: [MQTTMessage] = []
    func append(_ message: MQTTMessage) { messages.append(message) }
}
