import BrokerHarness
import Crypto
import FleetProtocol
import FleetSim
import Foundation
import MQTT

/// A staging site as shipped: `scripts/site-setup.sh` in a temporary directory (operator `alice`, an
/// admin unless the test gives provisiond other `--operator-role`s, and any further operators),
/// mosquitto on the rendered `broker-config/mosquitto.conf`, and the real provisiond with
/// `--manage-broker-accounts` logged in as `provisiond`. `stop()` ends every process it started.
final class StagingSite: Sendable {
    let base: URL
    let site: URL
    let localPort: Int
    /// The TLS listener (devices and remote operators), server certificate for `localhost`.
    let tlsPort: Int
    let broker: ManagedProcess
    let provisiond: ManagedProcess
    let serviceKey: Curve25519.KeyAgreement.PublicKey
    let operatorName = "alice"

    private init(
        base: URL, localPort: Int, tlsPort: Int, broker: ManagedProcess, provisiond: ManagedProcess,
        serviceKey: Curve25519.KeyAgreement.PublicKey
    ) {
        self.base = base
        self.site = base.appendingPathComponent("site")
        self.localPort = localPort
        self.tlsPort = tlsPort
        self.broker = broker
        self.provisiond = provisiond
        self.serviceKey = serviceKey
    }

    /// Runs `body` with a fresh site and stops it afterwards, also when `body` throws.
    static func with<T>(
        provisiondArguments: [String] = [], operators: [String] = [], _ body: (StagingSite) async throws -> T
    ) async throws -> T {
        let site = try await start(provisiondArguments: provisiondArguments, operators: operators)
        do {
            let result = try await body(site)
            await site.stop()
            return result
        } catch {
            let logs = "provisiond:\n\(site.provisiond.output())\nbroker:\n\(site.broker.output())"
            await site.stop()
            throw SiteError("\(error)\n\(logs)")
        }
    }

    /// - Parameter operators: operator accounts besides `alice`.
    static func start(provisiondArguments: [String] = [], operators: [String] = []) async throws -> StagingSite {
        let root = BinaryLocator.packageRoot()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fleet-staging-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        // The broker drops root privileges to the mosquitto user; it must be able to reach the site.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: base.path)
        let site = base.appendingPathComponent("site")
        let localPort = try FreePort.tcp()
        let tlsPort = try FreePort.tcp()
        let setup = try ManagedProcess.start(
            root.appendingPathComponent("scripts/site-setup.sh").path,
            arguments: [
                site.path, "--prefix", "bootstrap", "--hosts", "localhost", "--operator", "alice",
                "--local-port", String(localPort), "--device-port", String(tlsPort),
            ] + operators.flatMap { ["--operator", $0] })
        guard try await setup.waitForExit(timeout: .seconds(120)) == 0 else {
            try? FileManager.default.removeItem(at: base)
            throw SiteError("site-setup.sh failed: \(setup.output())")
        }
        let broker = try ManagedProcess.start(
            "/usr/sbin/mosquitto", arguments: ["-c", site.appendingPathComponent("mosquitto.conf").path])
        var provisiond: ManagedProcess?
        do {
            try await broker.waitForOutput(containing: " running", timeout: .seconds(10))
            let keys = base.appendingPathComponent("keys")
            let created = try await Site.fleetctl(["keys", "create", "--out", keys.path], port: localPort)
            guard created.status == 0 else { throw SiteError("fleetctl keys create failed: \(created.output)") }
            let started = try ManagedProcess.start(
                try BinaryLocator.path(of: "provisiond"),
                arguments: [
                    "--port", String(localPort), "--username", "provisiond",
                    "--password-file", site.appendingPathComponent("secrets/provisiond.password").path,
                    "--database", base.appendingPathComponent("registry.sqlite").path,
                    "--service-key", keys.appendingPathComponent("service.key").path, "--manage-broker-accounts",
                ] + (provisiondArguments.contains("--operator-role") ? [] : ["--operator-role", "alice=admin"])
                    + provisiondArguments)
            provisiond = started
            try await started.waitForOutput(containing: "provisiond online", timeout: .seconds(30))
            let serviceKey = try KeyFile.loadPublicKey(from: keys.appendingPathComponent("service.pub").path)
            return StagingSite(
                base: base, localPort: localPort, tlsPort: tlsPort, broker: broker, provisiond: started,
                serviceKey: serviceKey)
        } catch {
            let logs = "provisiond:\n\(provisiond?.output() ?? "")\nbroker:\n\(broker.output())"
            _ = await provisiond?.terminate()
            _ = await broker.terminate()
            try? FileManager.default.removeItem(at: base)
            throw SiteError("staging site did not start: \(error)\n\(logs)")
        }
    }

    /// A site account's password from DIR/secrets.
    func password(of account: String) throws -> String {
        try String(contentsOf: site.appendingPathComponent("secrets/\(account).password"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The site CA certificate, what remote clients pin.
    var caFile: String { site.appendingPathComponent("certs/ca.crt").path }

    /// fleetctl as operator `account` (alice by default) on the loopback listener, or on the TLS
    /// listener (as `localhost`, verified against the site CA) when `tls` is set; `listener` replaces
    /// both (host, port and TLS flags of the test's own).
    func fleetctl(
        _ arguments: [String], stdin: Data? = nil, as account: String? = nil, tls: Bool = false,
        listener: [String]? = nil
    ) async throws -> (status: Int32, output: String) {
        let account = account ?? operatorName
        let listener =
            listener
            ?? (tls
                ? ["--host", "localhost", "--port", String(tlsPort), "--ca-file", caFile]
                : ["--port", String(localPort)])
        let process = try ManagedProcess.start(
            try BinaryLocator.path(of: "fleetctl"),
            arguments: arguments + listener + [
                "--username", account,
                "--password-file", site.appendingPathComponent("secrets/\(account).password").path,
            ], stdin: stdin)
        let status = try await process.waitForExit(timeout: .seconds(120))
        return (status, process.output())
    }

    /// How many hellos provisiond counted for pending `id` (`fleetctl pending --json`), nil when not pending.
    func pendingHellos(_ id: String) async throws -> Int? {
        let listed = try await fleetctl(["pending", "--json"])
        guard listed.status == 0 else { throw SiteError("fleetctl pending failed: \(listed.output)") }
        let start = listed.output.firstIndex(of: "{") ?? listed.output.startIndex
        let object = try JSONSerialization.jsonObject(with: Data(listed.output[start...].utf8)) as? [String: Any]
        let entries = object?["pending"] as? [[String: Any]] ?? []
        return entries.first { $0["device"] as? String == id }?["hellos"] as? Int
    }

    /// A connected client of the loopback listener; the caller closes it. With MQTT v5 a publish the
    /// broker refuses fails its caller.
    func client(
        _ username: String, password: String? = nil, clientID: String? = nil, version: MQTTProtocolVersion = .v311
    ) async throws -> MQTTClient {
        let client = MQTTClient(
            MQTTConfiguration(
                host: "127.0.0.1", port: localPort, clientID: clientID ?? "\(username)-\(UUID().uuidString.prefix(8))",
                username: username, password: try password ?? self.password(of: username), protocolVersion: version,
                reconnect: .disabled))
        do {
            try await client.connect()
        } catch {
            client.close()
            throw error
        }
        return client
    }

    /// Whether `account` still logs in with its password from DIR/secrets.
    func logsIn(_ account: String) async -> Bool {
        guard let client = try? await client(account) else { return false }
        await client.disconnect()
        client.close()
        return true
    }

    /// provisiond's client id, from its log line "provisiond online".
    func provisiondClientID() throws -> String {
        let line = provisiond.output().split(separator: "\n").first { $0.contains("provisiond online") }
        guard let field = line?.split(separator: " ").first(where: { $0.hasPrefix("client=") }) else {
            throw SiteError("no client id in provisiond's log")
        }
        return String(field.dropFirst("client=".count))
    }

    /// Makes provisiond reconnect once, both its connections: an administrator who knows its client
    /// id (and the operator connection's, the same with `-ops`) takes them over.
    func reconnectProvisiond() async throws {
        let before = provisiond.output().components(separatedBy: "reconnected").count
        let opsTaker = try await client("alice", clientID: try provisiondClientID() + "-ops")
        opsTaker.close()
        let taker = try await client("alice", clientID: try provisiondClientID())
        try await eventually("provisiond reconnected") {
            provisiond.output().components(separatedBy: "reconnected").count > before
        }
        taker.close()
        try await Task.sleep(for: .seconds(1))
    }

    func stop() async {
        _ = await provisiond.terminate()
        _ = await broker.terminate()
        try? FileManager.default.removeItem(at: base)
    }
}

/// A valid hello for a fresh random id and key (as anyone with the hello password can send).
func randomHello(_ index: Int) throws -> (id: DeviceID, payload: [UInt8]) {
    let id = try DeviceID("flood-\(index)-\(UInt64.random(in: 0...UInt64.max))")
    let hello = Hello(
        device: id, publicKey: Curve25519.KeyAgreement.PrivateKey().publicKey, agent: "flood", caps: ["wifi"],
        boot: 1, nonce: Hello.makeNonce())
    return (id, try MessageCodec.encode(hello))
}

/// Everything one account receives on some filters, from subscribing until `stop()`.
final class Recorder: Sendable {
    private let client: MQTTClient
    private let store = MessageStore()
    private let task: Task<Void, Never>

    init(_ site: StagingSite, _ account: String, _ filters: [String]) async throws {
        client = try await site.client(account)
        let messages = client.messages
        let store = self.store
        task = Task {
            for await message in messages { await store.append(message) }
        }
        for filter in filters { _ = try await client.subscribe(filter) }
    }

    /// The payloads received on `topic` (every topic when nil), as text.
    func payloads(on topic: String? = nil) async -> [String] {
        await store.messages.filter { topic == nil || $0.topic == topic }.map {
            String(decoding: $0.payload, as: UTF8.self)
        }
    }

    func stop() async {
        await client.disconnect()
        client.close()
        task.cancel()
    }
}
