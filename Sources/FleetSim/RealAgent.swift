import BrokerHarness
import Foundation
import Synchronization

/// The real omega-agent binary with the uci/wifi/ubus stand-ins working on a private copy of an
/// Omega2's uci files, and a scenario with one premises access point.
public final class RealAgent: Sendable {
    public let id: String
    public let directory: URL
    public let uri: String
    private let port: Int
    private let servicePublicKeyPath: String
    private let executable: String
    private let process = ProcessBox()

    /// Creates the device's identity (`omega-agent identity`) and its world in `site`'s directory;
    /// does not start it.
    public convenience init(id: String, site: FleetSite, accessPoint: (ssid: String, key: String)) async throws {
        try await self.init(
            id: id, port: site.broker.port, servicePublicKeyPath: site.servicePublicKeyPath,
            directory: site.directory.appendingPathComponent("agent-\(id)"),
            executable: FleetSite.binary("omega-agent", in: site.binDirectory), accessPoint: accessPoint)
    }

    /// Creates the device's identity (`omega-agent identity`) and its world in `directory`; does not
    /// start it.
    /// - Parameters:
    ///   - port: the broker's port on 127.0.0.1.
    ///   - executable: the native omega-agent binary.
    public init(
        id: String, port: Int, servicePublicKeyPath: String, directory: URL, executable: String,
        accessPoint: (ssid: String, key: String)
    ) async throws {
        self.id = id
        self.port = port
        self.servicePublicKeyPath = servicePublicKeyPath
        self.directory = directory
        self.executable = executable
        let uciDir = directory.appendingPathComponent("uci")
        try FileManager.default.createDirectory(at: uciDir, withIntermediateDirectories: true)
        let golden = BinaryLocator.packageRoot().appendingPathComponent("agent/tests/golden/apply/omega2/before")
        for name in try FileManager.default.contentsOfDirectory(atPath: golden.path) {
            try FileManager.default.copyItem(
                at: golden.appendingPathComponent(name), to: uciDir.appendingPathComponent(name))
        }
        let scenario: [String: Any] = [
            "confdir": uciDir.path, "state": directory.appendingPathComponent("radio.json").path,
            "aps": [
                [
                    "ssid": accessPoint.ssid, "encryption": "psk2", "key": accessPoint.key, "gives_lease": true,
                    "address": "192.168.8.20",
                ],
                // The staging SoftAP the golden config's station joins (back there after a reset).
                [
                    "ssid": "FleetProvisioning", "encryption": "psk2", "key": "provisioning-key", "gives_lease": true,
                    "address": "10.0.0.20",
                ],
            ],
        ]
        try JSONSerialization.data(withJSONObject: scenario).write(
            to: directory.appendingPathComponent("scenario.json"))
        uri = try await Self.identity(executable: executable, id: id, directory: directory)
    }

    /// Creates the device key `directory/device.key` if needed (`omega-agent identity`) and returns the
    /// device's bootstrap URI.
    public static func identity(executable: String, id: String, directory: URL) async throws -> String {
        let identity = try ManagedProcess.start(
            executable,
            arguments: [
                "identity", "--device-id", id, "--state-dir", directory.path, "--key-file",
                directory.appendingPathComponent("device.key").path,
            ])
        guard try await identity.waitForExit(timeout: .seconds(30)) == 0,
            let line = identity.output().split(separator: "\n").first, line.hasPrefix("FB1:")
        else { throw FleetSimError("omega-agent identity failed: \(identity.output())") }
        return String(line)
    }

    /// Starts the agent: it connects, reports online and says hello at once.
    public func start() throws {
        let standins = BinaryLocator.packageRoot().appendingPathComponent("agent/standins")
        var environment = ProcessInfo.processInfo.environment
        environment["FB_STANDIN_SCENARIO"] = directory.appendingPathComponent("scenario.json").path
        let started = try ManagedProcess.start(
            executable,
            arguments: [
                "run", "--device-id", id, "--state-dir", directory.path,
                "--key-file", directory.appendingPathComponent("device.key").path, "--broker-host", "127.0.0.1",
                "--broker-port", String(port), "--uci-confdir", directory.appendingPathComponent("uci").path,
                "--set", "uci_path=\(standins.appendingPathComponent("uci").path)",
                "--set", "wifi_path=\(standins.appendingPathComponent("wifi").path)",
                "--set", "ubus_path=\(standins.appendingPathComponent("ubus").path)",
                "--set", "service_pubkey=\(servicePublicKeyPath)", "--set", "verify_timeout=15", "--stderr",
            ],
            environment: environment)
        process.set(started)
    }

    /// The committed wireless config.
    public func wireless() -> String {
        (try? String(contentsOf: directory.appendingPathComponent("uci/wireless"), encoding: .utf8)) ?? ""
    }

    public func log() -> String { process.get()?.output() ?? "" }

    public func stop() async {
        if let running = process.get() { _ = await running.terminate() }
    }

    /// SIGKILL: the agent dies wherever it is (a crash or power cut); `start()` runs it again.
    public func kill() async {
        if let running = process.get() { await running.kill() }
    }
}

/// Holds the agent process once started.
private final class ProcessBox: Sendable {
    private let value = Mutex<ManagedProcess?>(nil)
    func set(_ process: ManagedProcess) { value.withLock { $0 = process } }
    func get() -> ManagedProcess? { value.withLock { $0 } }
}
