import BrokerHarness
import Foundation
import MQTT
import Testing

struct TestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing with `TestTimeout` after `timeout` (so a broken test fails, never hangs).
func withTimeout<T: Sendable>(
    _ timeout: Duration = .seconds(20), _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TestTimeout(what: what)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// The next `count` messages from `client`.
func receive(_ count: Int, from client: MQTTClient, timeout: Duration = .seconds(60)) async throws -> [MQTTMessage] {
    try await withTimeout(timeout, "\(count) message(s)") {
        var received: [MQTTMessage] = []
        for await message in client.messages {
            received.append(message)
            if received.count == count { break }
        }
        return received
    }
}

func uniqueID(_ prefix: String = "t") -> String {
    "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
}

/// Waits until `client.state` is `state`.
func waitForState(_ client: MQTTClient, _ state: MQTTConnectionState, timeout: Duration = .seconds(20)) async throws {
    try await withTimeout(timeout, "state \(state)") {
        for await current in client.stateUpdates() where current == state { return }
        throw TestTimeout(what: "state \(state) (stream ended)")
    }
}

func connectedClient(
    _ broker: Broker, id: String = uniqueID("c"), version: MQTTProtocolVersion = .v311, will: MQTTWill? = nil,
    reconnect: MQTTReconnectPolicy = .default
) async throws -> MQTTClient {
    let client = MQTTClient(
        MQTTConfiguration(
            host: broker.host, port: broker.port, clientID: id, protocolVersion: version, will: will,
            reconnect: reconnect))
    try await client.connect()
    return client
}

func scratchDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueID("fleet-mqtt-test"))
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
