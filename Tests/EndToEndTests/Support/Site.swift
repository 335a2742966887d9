import BrokerHarness
import Foundation
import MQTT
import Testing

/// A staging site for one test: a real broker, the real provisiond binary, a scratch directory, and
/// a helper to run the real fleetctl binary. `stop()` ends every process it started, by PID.
final class Site: Sendable {
    let broker: Broker
    let directory: URL
    let provisiond: ManagedProcess
    let serviceKeyDir: URL
    let prefix = "bootstrap"

    private init(broker: Broker, directory: URL, provisiond: ManagedProcess, serviceKeyDir: URL) {
        self.broker = broker
        self.directory = directory
        self.provisiond = provisiond
        self.serviceKeyDir = serviceKeyDir
    }

    static func start() async throws -> Site {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let broker = try await Broker.start()
        let keys = directory.appendingPathComponent("keys")
        let created = try await Self.fleetctl(["keys", "create", "--out", keys.path], port: broker.port)
        guard created.status == 0 else {
            await broker.stop()
            throw SiteError("fleetctl keys create failed: \(created.output)")
        }
        let provisiond = try ManagedProcess.start(
            try BinaryLocator.path(of: "provisiond"),
            arguments: [
                "--port", String(broker.port), "--database", directory.appendingPathComponent("registry.sqlite").path,
                "--service-key", keys.appendingPathComponent("service.key").path, "--log-level", "info",
            ])
        do {
            try await provisiond.waitForOutput(containing: "provisiond online", timeout: .seconds(30))
        } catch {
            _ = await provisiond.terminate()
            await broker.stop()
            throw SiteError("provisiond did not start: \(provisiond.output())")
        }
        return Site(broker: broker, directory: directory, provisiond: provisiond, serviceKeyDir: keys)
    }

    var servicePublicKeyPath: String { serviceKeyDir.appendingPathComponent("service.pub").path }
    var servicePrivateKeyPath: String { serviceKeyDir.appendingPathComponent("service.key").path }

    /// Runs fleetctl against this site's broker.
    func fleetctl(_ arguments: [String], stdin: Data? = nil) async throws -> (status: Int32, output: String) {
        try await Self.fleetctl(arguments, port: broker.port, stdin: stdin)
    }

    static func fleetctl(_ arguments: [String], port: Int, stdin: Data? = nil) async throws -> (
        status: Int32, output: String
    ) {
        let networked = !(arguments.first == "keys")
        let process = try ManagedProcess.start(
            try BinaryLocator.path(of: "fleetctl"),
            arguments: arguments + (networked ? ["--port", String(port)] : []), stdin: stdin)
        let status = try await process.waitForExit(timeout: .seconds(180))
        return (status, process.output())
    }

    func stop() async {
        _ = await provisiond.terminate()
        await broker.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

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
