import BrokerHarness
import Crypto
import FleetProtocol
import Foundation
import MQTT
import Synchronization
import Testing

/// How the real agent binary is started: natively, or a mipsel build under qemu-mipsel.
struct AgentBinary: Sendable, CustomStringConvertible {
    let executable: String
    let prefixArguments: [String]
    /// Seconds to allow for each expected status (qemu is much slower).
    let patience: Duration
    let description: String

    /// The native build: `$FLEET_BIN_DIR/omega-agent` or `.build/debug/omega-agent`.
    static func native() throws -> AgentBinary {
        let path = try BinaryLocator.path(of: "omega-agent")
        return AgentBinary(executable: path, prefixArguments: [], patience: .seconds(90), description: "native")
    }

    /// The device build named by `OMEGA_AGENT_MIPSEL` (default: the static musl soft-float build,
    /// `agent/build/musl-static/omega-agent`), run with `qemu-mipsel`; with `-L OMEGA_AGENT_SYSROOT` when
    /// that variable names the sysroot of a dynamic build. Throws, naming what to build or install,
    /// when any part is missing: a mipsel test never passes without having run the mipsel agent.
    static func mipsel() throws -> AgentBinary {
        let env = ProcessInfo.processInfo.environment
        let root = BinaryLocator.packageRoot()
        let path =
            env["OMEGA_AGENT_MIPSEL"].flatMap { $0.isEmpty ? nil : $0 }
            ?? root.appendingPathComponent("agent/build/musl-static/omega-agent").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw AgentTestError(
                "the mipsel agent \(path) is missing: run `make -C agent musl` (or set OMEGA_AGENT_MIPSEL)")
        }
        var prefix: [String] = []
        if let sysroot = env["OMEGA_AGENT_SYSROOT"].flatMap({ $0.isEmpty ? nil : $0 }) {
            guard FileManager.default.fileExists(atPath: sysroot + "/lib") else {
                throw AgentTestError("OMEGA_AGENT_SYSROOT \(sysroot) has no lib/ directory")
            }
            prefix = ["-L", sysroot]
        }
        guard let qemu = BinaryLocator.onPath("qemu-mipsel") else {
            throw AgentTestError("qemu-mipsel is not installed: apt-get install qemu-user (scripts/install-deps.sh)")
        }
        return AgentBinary(
            executable: qemu, prefixArguments: prefix + [path], patience: .seconds(180), description: "mipsel")
    }
}

struct AgentTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Messages received by the monitor client, in order.
final class Inbox: Sendable {
    private let messages = Mutex<[MQTTMessage]>([])

    func append(_ m: MQTTMessage) { messages.withLock { $0.append(m) } }
    var all: [MQTTMessage] { messages.withLock { $0 } }
}

/// One device under test: a broker, uci files with the Wi-Fi stand-ins, the real agent process, a
/// monitor subscribed to the device's topics, and the service key that seals its envelopes.
final class AgentSite: Sendable {
    static let provisioningSSID = "FleetProvisioning"
    static let provisioningKey = "provisioning-key"
    static let premisesSSID = "Premises"
    static let premisesKey = "correct horse battery"

    let deviceID: DeviceID
    let broker: Broker
    let directory: URL
    let binary: AgentBinary
    let serviceKey = Curve25519.KeyAgreement.PrivateKey()
    let deviceKey = Curve25519.KeyAgreement.PrivateKey()
    let monitor: MQTTClient
    let inbox = Inbox()
    private let process = Mutex<ManagedProcess?>(nil)
    private let reader = Mutex<Task<Void, Never>?>(nil)

    var confdir: URL { directory.appendingPathComponent("config") }
    var stateDir: URL { directory.appendingPathComponent("state") }
    var configFile: URL { directory.appendingPathComponent("omega-agent") }
    var scenarioFile: URL { directory.appendingPathComponent("standin-scenario") }
    var prefix: String { "bootstrap" }
    var configTopic: String { "\(prefix)/v1/devices/\(deviceID)/config" }
    var statusTopic: String { "\(prefix)/v1/devices/\(deviceID)/status" }
    var helloTopic: String { "\(prefix)/v1/devices/\(deviceID)/hello" }

    /// Seconds the simulated premises AP takes to give a lease after `wifi reload`.
    let premisesJoinDelay: Double

    /// Sets up the files and the monitor; `brokerConfig` is appended to the development config;
    /// `brokerPersistence` keeps retained messages across `broker.restart()`.
    init(
        binary: AgentBinary, device: String = "omega-a1b2", brokerConfig: String? = nil,
        monitorUser: (String, String)? = nil, brokerPersistence: Bool = false, premisesJoinDelay: Double = 0
    ) async throws {
        self.binary = binary
        self.deviceID = try DeviceID(device)
        self.premisesJoinDelay = premisesJoinDelay
        self.broker = try await Broker.start(config: brokerConfig, persistence: brokerPersistence)
        self.directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("fleet-agent-\(UUID().uuidString.prefix(8))")
        monitor = MQTTClient(
            MQTTConfiguration(
                host: broker.host, port: broker.port, clientID: "monitor-\(UUID().uuidString.prefix(8))",
                username: monitorUser?.0, password: monitorUser?.1, reconnect: .disabled))
        let fm = FileManager.default
        try fm.createDirectory(at: confdir, withIntermediateDirectories: true)
        try fm.createDirectory(at: stateDir, withIntermediateDirectories: true)
        let golden = BinaryLocator.packageRoot().appendingPathComponent("agent/tests/golden/apply/omega2/before")
        for name in ["wireless", "network", "firewall"] {
            try fm.copyItem(at: golden.appendingPathComponent(name), to: confdir.appendingPathComponent(name))
        }
        try KeyFile.savePrivateKey(deviceKey, to: stateDir.appendingPathComponent("device.key").path)
        try KeyFile.savePublicKey(serviceKey.publicKey, to: directory.appendingPathComponent("service.pub").path)
        try writeScenario()
        try await monitor.connect()
        _ = try await monitor.subscribe("\(prefix)/v1/devices/\(device)/+")
        let stream = monitor.messages
        let inbox = self.inbox
        reader.withLock { $0 = Task { for await m in stream { inbox.append(m) } } }
    }

    /// The world the Wi-Fi stand-ins simulate: the provisioning AP and the premises AP.
    func writeScenario() throws {
        let scenario: [String: Any] = [
            "confdir": confdir.path, "state": directory.appendingPathComponent("wifi-state.json").path,
            "aps": [
                [
                    "ssid": Self.provisioningSSID, "encryption": "psk2", "key": Self.provisioningKey,
                    "gives_lease": true, "join_delay_s": 0, "address": "192.168.4.20",
                ],
                [
                    "ssid": Self.premisesSSID, "encryption": "psk2", "key": Self.premisesKey,
                    "gives_lease": true, "join_delay_s": premisesJoinDelay, "address": "10.1.2.3",
                ],
            ],
        ]
        try JSONSerialization.data(withJSONObject: scenario).write(to: scenarioFile)
    }

    var standins: URL { BinaryLocator.packageRoot().appendingPathComponent("agent/standins") }

    /// The agent's uci-format configuration file.
    func writeAgentConfig(extra: [String: String] = [:]) throws {
        var options: [(String, String)] = [
            ("device_id", deviceID.rawValue), ("broker_host", broker.host), ("broker_port", "\(broker.port)"),
            ("auth_mode", "none"), ("prefix", prefix),
            ("service_pubkey", directory.appendingPathComponent("service.pub").path),
            ("key_file", stateDir.appendingPathComponent("device.key").path), ("state_dir", stateDir.path),
            ("prov_ssid", Self.provisioningSSID), ("prov_key", Self.provisioningKey), ("prov_encryption", "psk2"),
            ("verify_timeout", "60"), ("poll_interval", "100"),
            ("uci_path", standins.appendingPathComponent("uci").path),
            ("wifi_path", standins.appendingPathComponent("wifi").path),
            ("ubus_path", standins.appendingPathComponent("ubus").path),
            ("uci_confdir", confdir.path), ("layout", "omega2"), ("log_level", "debug"), ("use_syslog", "0"),
            ("backoff_min", "200"), ("backoff_max", "1000"),
        ]
        for (k, v) in extra {
            options.removeAll { $0.0 == k }
            options.append((k, v))
        }
        var text = "config agent 'agent'\n"
        for (k, v) in options { text += "\toption \(k) '\(v)'\n" }
        try Data(text.utf8).write(to: configFile)
    }

    private var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["FB_STANDIN_SCENARIO"] = scenarioFile.path
        return env
    }

    /// Brings the simulated radio up on the provisioning network, then starts the agent.
    func startAgent(extraConfig: [String: String] = [:]) throws {
        try writeAgentConfig(extra: extraConfig)
        let wifi = try ManagedProcess.start(
            standins.appendingPathComponent("wifi").path, arguments: ["reload"], environment: environment)
        let deadline = ContinuousClock.now + .seconds(30)
        while wifi.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        guard wifi.exitCodeIfExited() == 0 else {
            throw AgentTestError("wifi reload stand-in failed: \(wifi.output())")
        }
        let p = try ManagedProcess.start(
            binary.executable, arguments: binary.prefixArguments + ["--config", configFile.path, "--stderr"],
            environment: environment)
        process.withLock { $0 = p }
    }

    var agent: ManagedProcess? { process.withLock { $0 } }
    var agentOutput: String { agent?.output() ?? "" }

    /// Stops the agent (SIGTERM) and returns its exit code.
    @discardableResult
    func stopAgent() async -> Int32? {
        guard let p = process.withLock({ $0 }) else { return nil }
        return await p.terminate(grace: .seconds(10))
    }

    /// Stops everything this site started.
    func shutdown() async {
        await stopAgent()
        await monitor.disconnect()
        monitor.close()
        reader.withLock { $0?.cancel() }
        await broker.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: envelopes

    func seal(
        _ profile: WiFiProfile, seq: UInt64, for device: DeviceID? = nil,
        publicKey: Curve25519.KeyAgreement.PublicKey? = nil,
        serviceKey: Curve25519.KeyAgreement.PrivateKey? = nil
    ) throws -> String {
        let envelope = try EnvelopeCrypto.seal(
            profile: profile, seq: seq, device: device ?? deviceID,
            devicePublicKey: publicKey ?? deviceKey.publicKey, servicePrivateKey: serviceKey ?? self.serviceKey)
        return try MessageCodec.encodeString(envelope)
    }

    /// Seals raw plaintext bytes (for profiles FleetProtocol itself refuses to encode).
    func sealRaw(_ plaintext: String, seq: UInt64, kind: PayloadKind = .wifi) throws -> String {
        let envelope = try EnvelopeCrypto.seal(
            plaintext: Array(plaintext.utf8), kind: kind, seq: seq, device: deviceID,
            devicePublicKey: deviceKey.publicKey, servicePrivateKey: serviceKey)
        return try MessageCodec.encodeString(envelope)
    }

    static let goodProfile = WiFiProfile(ssid: premisesSSID, encryption: .psk2, key: premisesKey)

    func publishConfig(_ text: String) async throws {
        try await monitorPublish(configTopic, Array(text.utf8))
    }

    func monitorPublish(_ topic: String, _ payload: [UInt8]) async throws {
        try await monitor.publish(topic, payload: payload, qos: .atLeastOnce, retain: true)
    }

    // MARK: observing

    func statuses() -> [DeviceStatus] {
        inbox.all.filter { $0.topic == statusTopic && !$0.payload.isEmpty }
            .compactMap { try? MessageCodec.decode(DeviceStatus.self, from: $0.payload) }
    }

    func hellos() -> [MQTTMessage] { inbox.all.filter { $0.topic == helloTopic } }

    /// Waits for a status (after `after` statuses were already seen) matching `predicate`.
    @discardableResult
    func waitForStatus(after skip: Int = 0, _ what: String, _ predicate: (DeviceStatus) -> Bool)
        async throws -> DeviceStatus
    {
        let deadline = ContinuousClock.now + binary.patience
        while ContinuousClock.now < deadline {
            if let s = statuses().dropFirst(skip).first(where: predicate) { return s }
            if let p = agent, !p.isRunning {
                throw AgentTestError("agent exited (\(p.exitCodeIfExited() ?? -1)) before \(what):\n\(p.output())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw AgentTestError(
            "no status \(what) within \(binary.patience); saw \(statuses().map { "\($0.state)/\($0.seq)/\($0.reason?.rawValue ?? "-")" })\n"
                + "agent output:\n\(agentOutput)")
    }

    /// The uci files, byte for byte.
    func uciSnapshot() throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: confdir.path) {
            out[name] = try Data(contentsOf: confdir.appendingPathComponent(name))
        }
        return out
    }

    func wireless() throws -> String {
        try String(contentsOf: confdir.appendingPathComponent("wireless"), encoding: .utf8)
    }
}

/// Runs `body` with a started site and always shuts it down.
func withAgentSite(
    binary: AgentBinary, device: String = "omega-a1b2", extraConfig: [String: String] = [:],
    _ body: (AgentSite) async throws -> Void
) async throws {
    let site = try await AgentSite(binary: binary, device: device)
    do {
        try site.startAgent(extraConfig: extraConfig)
        try await site.waitForStatus("online") { $0.state == .online }
        try await body(site)
    } catch {
        await site.shutdown()
        throw error
    }
    await site.shutdown()
}
