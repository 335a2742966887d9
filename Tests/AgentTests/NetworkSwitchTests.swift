import BrokerHarness
import Crypto
import FleetProtocol
import FleetSim
import Foundation
import Provisioning
import Synchronization
import Testing

/// The real agent (native, and the mipsel build under qemu) with the real provisiond, across the
/// Wi-Fi switch an apply makes: a proxy (`agent/tests/netswitch-proxy.py`) plays the network. The
/// broker is at 127.0.0.1 on the provisioning network and at 127.0.0.2 on the premises network; each
/// `wifi reload` that restarts the station silences every connection opened before (no FIN, no RST).
/// Every case ends with its outcome in provisiond's registry exactly once.
@Suite("omega-agent across a network switch", .serialized)
struct NetworkSwitchTests {
    @Test(arguments: SwitchCase.allCases)
    func nativeAgent(_ switchCase: SwitchCase) async throws {
        try await runSwitchCase(switchCase, try .native())
    }

    @Test(arguments: SwitchCase.allCases)
    func mipselAgent(_ switchCase: SwitchCase) async throws {
        try await runSwitchCase(switchCase, try .mipsel())
    }
}

/// One way a premises apply can go.
enum SwitchCase: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case applied, wrongKey, networkNotFound, noAddress, slowJoin, subnetConflict, brokerUnreachable
    /// The broker stops while the agent applies and comes back while it waits for the new network.
    case brokerRestart
    /// SIGKILL after the commit, while the agent's first connection over the new network waits for
    /// its CONNACK: the next start rolls back, the retained config is applied again.
    case killedAfterCommit

    var testDescription: String { rawValue }

    /// The state and reason provisiond's registry must end with.
    var expected: (DeviceState, ReasonCode?) {
        switch self {
        case .applied, .brokerRestart, .killedAfterCommit: (.applied, nil)
        case .wrongKey: (.failed, .authFailed)
        case .networkNotFound: (.failed, .networkNotFound)
        case .noAddress: (.failed, .noAddress)
        case .slowJoin: (.failed, .timeout)
        case .subnetConflict: (.failed, .subnetConflict)
        case .brokerUnreachable: (.failed, .brokerUnreachable)
        }
    }
}

private let premisesSSID = "Premises"
private let premisesKey = "correct horse battery"

/// A staging site (broker, provisiond), the proxy, and one agent whose radio world has the
/// provisioning AP and the premises AP.
private final class SwitchSite: Sendable {
    let site: FleetSite
    let proxy: ManagedProcess
    let directory: URL
    let deviceID = "omega-switch"
    let binary: AgentBinary
    let endpoints: [String]
    let agent = AgentBox()

    var scenarioFile: URL { directory.appendingPathComponent("scenario.json") }
    var uciDir: URL { directory.appendingPathComponent("uci") }

    init(_ c: SwitchCase, binary: AgentBinary) async throws {
        self.binary = binary
        let site = try await FleetSite.start()
        let directory = site.directory.appendingPathComponent("agent")
        do {
            let (proxy, endpoints) = try await Self.prepare(c, site: site, directory: directory)
            self.proxy = proxy
            self.endpoints = endpoints
        } catch {
            await site.stop()
            throw error
        }
        self.site = site
        self.directory = directory
    }

    /// The agent's uci files and radio world, and the proxy; returns the proxy and the broker endpoints.
    private static func prepare(_ c: SwitchCase, site: FleetSite, directory: URL) async throws
        -> (ManagedProcess, [String])
    {
        let fm = FileManager.default
        let uciDir = directory.appendingPathComponent("uci")
        try fm.createDirectory(at: uciDir, withIntermediateDirectories: true)
        let golden = BinaryLocator.packageRoot().appendingPathComponent("agent/tests/golden/apply/omega2/before")
        for name in ["wireless", "network", "firewall"] {
            try fm.copyItem(at: golden.appendingPathComponent(name), to: uciDir.appendingPathComponent(name))
        }
        let switchFile = directory.appendingPathComponent("netswitch")
        let premises: [String: Any] = [
            "ssid": premisesSSID, "encryption": "psk2", "key": premisesKey, "gives_lease": c != .noAddress,
            "join_delay_s": c == .slowJoin ? 60 : (c == .brokerRestart ? 4 : 0),
            "address": c == .subnetConflict ? "192.168.3.50" : "10.1.2.3", "bssid": "02:00:00:00:00:02",
        ]
        let scenario: [String: Any] = [
            "confdir": uciDir.path, "state": directory.appendingPathComponent("radio.json").path,
            "netswitch": switchFile.path,
            "aps": [
                [
                    "ssid": "FleetProvisioning", "encryption": "psk2", "key": "provisioning-key",
                    "gives_lease": true, "address": "192.168.4.20",
                ],
                premises,
            ],
        ]
        try JSONSerialization.data(withJSONObject: scenario).write(
            to: directory.appendingPathComponent("scenario.json"))
        // With no broker on the premises network, 127.0.0.2 belongs to a network nobody joins.
        let premisesNetwork = c == .brokerUnreachable ? "Elsewhere" : premisesSSID
        var arguments = [
            "--broker", "127.0.0.1:\(site.broker.port)", "--switch-file", switchFile.path,
            "--initial", "FleetProvisioning", "--listen", "127.0.0.1=FleetProvisioning",
            "--listen", "127.0.0.2=\(premisesNetwork)",
        ]
        if c == .killedAfterCommit { arguments += ["--hold", "\(premisesSSID)=8"] }
        let proxy = try ManagedProcess.start(
            BinaryLocator.packageRoot().appendingPathComponent("agent/tests/netswitch-proxy.py").path,
            arguments: arguments)
        try await proxy.waitForOutput(containing: "ready", timeout: .seconds(30))
        let endpoints = proxy.output().split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ")
            return f.count == 4 && f[0] == "listen" ? "mqtt://\(f[1]):\(f[2])" : nil
        }
        return (proxy, endpoints)
    }

    var standins: URL { BinaryLocator.packageRoot().appendingPathComponent("agent/standins") }
    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["FB_STANDIN_SCENARIO"] = scenarioFile.path
        return env
    }

    /// Enrolls the device and assigns it a profile: provisiond seals it at the device's first hello.
    func enrollAndAssign(ssid: String, key: String) async throws {
        // the native binary makes the key for either build: the key file is the same
        let uri = try await RealAgent.identity(
            executable: try BinaryLocator.path(of: "omega-agent"), id: deviceID, directory: directory)
        try await fleetctl(["enroll", uri])
        let keyFile = site.directory.appendingPathComponent("premises.key")
        try Data("\(key)\n".utf8).write(to: keyFile)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile.path)
        try await fleetctl([
            "profile", "add", "premises", "--ssid", ssid, "--encryption", "psk2", "--key-file", keyFile.path,
            "--service-pubkey", site.servicePublicKeyPath,
        ])
        try await fleetctl(["assign", "premises", "--device", deviceID])
    }

    func fleetctl(_ arguments: [String]) async throws {
        let r = try await site.fleetctl(arguments)
        guard r.status == 0 else { throw AgentTestError("fleetctl \(arguments[0]) failed: \(r.output)") }
    }

    /// Starts the agent with both broker endpoints (the radio is already on the provisioning network).
    func startAgent() throws {
        var arguments =
            binary.prefixArguments + [
                "run", "--device-id", deviceID, "--state-dir", directory.path,
                "--key-file", directory.appendingPathComponent("device.key").path, "--uci-confdir", uciDir.path,
                "--set", "uci_path=\(standins.appendingPathComponent("uci").path)",
                "--set", "wifi_path=\(standins.appendingPathComponent("wifi").path)",
                "--set", "ubus_path=\(standins.appendingPathComponent("ubus").path)",
                "--set", "service_pubkey=\(site.servicePublicKeyPath)", "--set", "verify_timeout=10",
                "--set", "poll_interval=200", "--set", "broker_timeout=25", "--set", "backoff_min=200",
                "--set", "backoff_max=2000", "--set", "keepalive=10", "--log-level", "debug", "--stderr",
            ]
        for e in endpoints { arguments += ["--set", "broker=\(e)"] }
        agent.set(try ManagedProcess.start(binary.executable, arguments: arguments, environment: environment))
    }

    func radioUp() async throws {
        let wifi = try ManagedProcess.start(
            standins.appendingPathComponent("wifi").path, arguments: ["reload"], environment: environment)
        guard try await wifi.waitForExit(timeout: .seconds(30)) == 0 else {
            throw AgentTestError("wifi reload stand-in failed: \(wifi.output())")
        }
    }

    func registry() throws -> Registry {
        let key = try KeyFile.loadPrivateKey(from: site.servicePrivateKeyPath)
        return try Registry(path: site.registryPath, cipher: AtRestCipher(servicePrivateKey: key.rawRepresentation))
    }

    var log: String {
        "agent:\n\(agent.get()?.output() ?? "")\nproxy:\n\(proxy.output())\nprovisiond:\n\(site.provisiond.output())"
    }

    func stop() async {
        if let a = agent.get() { _ = await a.terminate(grace: .seconds(10)) }
        _ = await proxy.terminate()
        await site.stop()
    }
}

private final class AgentBox: Sendable {
    private let value = Mutex<ManagedProcess?>(nil)
    func set(_ p: ManagedProcess) { value.withLock { $0 = p } }
    func get() -> ManagedProcess? { value.withLock { $0 } }
}

private func runSwitchCase(_ c: SwitchCase, _ binary: AgentBinary) async throws {
    let s = try await SwitchSite(c, binary: binary)
    do {
        let profile: (String, String) =
            switch c {
            case .wrongKey: (premisesSSID, "another key entirely")
            case .networkNotFound: ("Nowhere", premisesKey)
            default: (premisesSSID, premisesKey)
            }
        try await s.enrollAndAssign(ssid: profile.0, key: profile.1)
        try await s.radioUp()
        try s.startAgent()
        let agent = try #require(s.agent.get())
        let patience = binary.patience * 2
        switch c {
        case .brokerRestart:
            try await agent.waitForOutput(containing: "status applying seq 1", timeout: patience)
            await s.site.broker.stop()
            try await Task.sleep(for: .seconds(2))
            try await s.site.broker.restart()
        case .killedAfterCommit:
            try await s.proxy.waitForOutput(containing: "accept \(premisesSSID)", timeout: patience)
            await agent.kill()
            #expect(!agent.output().contains("status applied seq 1"), "reported before the kill")
            try s.startAgent()
        default:
            break
        }

        let registry = try s.registry()
        let (state, reason) = c.expected
        try await eventually(patience, "registry: \(state) seq 1\n\(s.log)") {
            let d = try registry.device(s.deviceID)
            return d?.statusSeq == 1 && (d?.statusState == .applied || d?.statusState == .failed)
        }
        // Long enough for a second report of the same outcome to arrive, if the agent sent one.
        try await Task.sleep(for: .seconds(5))
        let device = try #require(try registry.device(s.deviceID))
        #expect(device.statusState == state && device.statusSeq == 1, "\(s.log)")
        #expect(device.statusReason == reason, "reason \(String(describing: device.statusReason))\n\(s.log)")
        let outcomes = try registry.auditLog(limit: 1000).filter {
            $0.device == s.deviceID && $0.seq == 1 && ($0.type == .deviceApplied || $0.type == .deviceFailed)
        }
        #expect(outcomes.count == 1, "\(outcomes.count) outcomes recorded for seq 1\n\(s.log)")
        // The proxy did model the switch: the agent's connections of the provisioning network went silent.
        let noLease = c == .networkNotFound || c == .wrongKey || c == .noAddress
        #expect(s.proxy.output().contains(noLease ? "switch -" : "switch \(premisesSSID)"), "\(s.log)")
        let wireless = try String(contentsOf: s.uciDir.appendingPathComponent("wireless"), encoding: .utf8)
        if state == .applied {
            #expect(wireless.contains("option ssid '\(premisesSSID)'"))
        } else {
            #expect(wireless.contains("option ssid 'FleetProvisioning'"), "not rolled back: \(wireless)")
        }
    } catch {
        Issue.record("\(error)\n\(s.log)")
    }
    await s.stop()
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes.
private func eventually(_ timeout: Duration, _ what: String, _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw AgentTestError("timed out waiting for \(what)")
}
