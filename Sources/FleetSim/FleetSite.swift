import BrokerHarness
import Foundation

/// A staging site on one machine: a real broker, the real provisiond binary on a fresh SQLite
/// registry in a scratch directory, and a helper to run the real fleetctl binary. `stop()` ends every
/// process it started, by PID.
public final class FleetSite: Sendable {
    public let broker: Broker
    public let directory: URL
    public let provisiond: ManagedProcess
    public let serviceKeyDir: URL
    public let prefix = "bootstrap"
    /// Where provisiond, fleetctl and omega-agent come from; nil: `BinaryLocator`'s choice.
    public let binDirectory: URL?

    private init(broker: Broker, directory: URL, provisiond: ManagedProcess, serviceKeyDir: URL, binDirectory: URL?) {
        self.broker = broker
        self.directory = directory
        self.provisiond = provisiond
        self.serviceKeyDir = serviceKeyDir
        self.binDirectory = binDirectory
    }

    /// Starts the broker (`broker-config/dev.conf`), creates a service key with `fleetctl keys create`
    /// and starts provisiond; returns once provisiond says it is online.
    /// - Parameters:
    ///   - binDirectory: the build's bin directory; nil: `$FLEET_BIN_DIR` or `.build/debug`.
    ///   - logLevel: provisiond's `--log-level`.
    /// - Throws: `FleetSimError` with the failing process's output.
    public static func start(binDirectory: URL? = nil, logLevel: String = "info") async throws -> FleetSite {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-site-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let broker = try await Broker.start()
        let keys = directory.appendingPathComponent("keys")
        let created = try await Self.fleetctl(
            ["keys", "create", "--out", keys.path], port: broker.port, binDirectory: binDirectory)
        guard created.status == 0 else {
            await broker.stop()
            throw FleetSimError("fleetctl keys create failed: \(created.output)")
        }
        let provisiond = try ManagedProcess.start(
            try binary("provisiond", in: binDirectory),
            arguments: [
                "--port", String(broker.port), "--database", directory.appendingPathComponent("registry.sqlite").path,
                "--service-key", keys.appendingPathComponent("service.key").path, "--log-level", logLevel,
                // fleetctl's default operator; a development site has one operator who does everything.
                "--operator-role", "operator=admin",
            ])
        do {
            try await provisiond.waitForOutput(containing: "provisiond online", timeout: .seconds(30))
        } catch {
            _ = await provisiond.terminate()
            await broker.stop()
            throw FleetSimError("provisiond did not start: \(provisiond.output())")
        }
        return FleetSite(
            broker: broker, directory: directory, provisiond: provisiond, serviceKeyDir: keys,
            binDirectory: binDirectory)
    }

    /// `name` in `directory`, or `BinaryLocator`'s choice when `directory` is nil.
    public static func binary(_ name: String, in directory: URL?) throws -> String {
        guard let directory else { return try BinaryLocator.path(of: name) }
        let path = directory.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw FleetSimError("\(path) is missing: build it with `swift build --product \(name)`")
        }
        return path
    }

    public var servicePublicKeyPath: String { serviceKeyDir.appendingPathComponent("service.pub").path }
    public var servicePrivateKeyPath: String { serviceKeyDir.appendingPathComponent("service.key").path }
    /// The registry file (SQLite in WAL mode: also `-wal` and `-shm` beside it).
    public var registryPath: String { directory.appendingPathComponent("registry.sqlite").path }

    /// Runs fleetctl against this site's broker.
    public func fleetctl(_ arguments: [String], stdin: Data? = nil, timeout: Duration = .seconds(180)) async throws
        -> (status: Int32, output: String)
    {
        try await Self.fleetctl(
            arguments, port: broker.port, stdin: stdin, binDirectory: binDirectory, timeout: timeout)
    }

    public static func fleetctl(
        _ arguments: [String], port: Int, stdin: Data? = nil, binDirectory: URL? = nil,
        timeout: Duration = .seconds(180)
    ) async throws -> (status: Int32, output: String) {
        let networked = !(arguments.first == "keys")
        let process = try ManagedProcess.start(
            try binary("fleetctl", in: binDirectory),
            arguments: arguments + (networked ? ["--port", String(port)] : []), stdin: stdin)
        let status = try await process.waitForExit(timeout: timeout)
        return (status, process.output())
    }

    public func stop() async {
        _ = await provisiond.terminate()
        await broker.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
