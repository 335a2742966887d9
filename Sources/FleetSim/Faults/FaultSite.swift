import BrokerHarness
import Foundation
import GRDB
import Glibc
import Synchronization

/// A staging site built to be broken: a real mosquitto with the shipped persistence settings
/// (`broker-config/mosquitto.conf`'s `autosave_*` lines, persistence on), the real provisiond on a
/// SQLite registry that can be SIGKILLed, SIGSTOPped and restarted, and TCP proxies in front of the
/// broker for partitions (one for provisiond, one for a share of the devices). `stop()` ends every
/// process it started, by PID.
public final class FaultSite: Sendable {
    public let broker: Broker
    public let directory: URL
    /// Where the registry lives: `directory`, or a small tmpfs mounted for the disk-full scenario.
    public let registryDirectory: URL
    public let serviceKeyDir: URL
    public let binDirectory: URL?
    /// provisiond reaches the broker through this proxy.
    public let serviceProxy: TCPProxy
    /// The devices of a partitioned share reach the broker through this proxy.
    public let deviceProxy: TCPProxy
    public let keepAlive: Int
    public let prefix = "bootstrap"
    private let tmpfs: Bool
    private let provisiond = Mutex<ManagedProcess?>(nil)
    /// Every provisiond run's output, oldest first.
    private let logs = Mutex<[ManagedProcess]>([])

    private init(
        broker: Broker, directory: URL, registryDirectory: URL, tmpfs: Bool, serviceKeyDir: URL, binDirectory: URL?,
        keepAlive: Int
    ) throws {
        self.broker = broker
        self.directory = directory
        self.registryDirectory = registryDirectory
        self.tmpfs = tmpfs
        self.serviceKeyDir = serviceKeyDir
        self.binDirectory = binDirectory
        self.keepAlive = keepAlive
        serviceProxy = try TCPProxy(targetPort: broker.port)
        deviceProxy = try TCPProxy(targetPort: broker.port)
    }

    /// The persistence lines of the shipped staging-site configuration, for the harness broker.
    public static func shippedPersistence() -> String {
        let url = BinaryLocator.packageRoot().appendingPathComponent("broker-config/mosquitto.conf")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { $0.hasPrefix("autosave_") }.joined(separator: "\n")
    }

    /// Starts the broker (persistence on, the shipped autosave settings), creates a service key and
    /// starts provisiond behind its proxy.
    /// - Parameters:
    ///   - keepAlive: provisiond's MQTT keepalive (seconds).
    ///   - registryOnTmpfs: put the registry on a tmpfs of `tmpfsBytes` (needs root).
    ///   - persistence: the broker's `autosave_*` lines; nil: ``shippedPersistence()``.
    public static func start(
        binDirectory: URL?, keepAlive: Int, registryOnTmpfs: Bool = false, tmpfsBytes: Int = 8 << 20,
        persistence: String? = nil
    ) async throws -> FaultSite {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fleet-faults-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var registryDirectory = directory
        if registryOnTmpfs {
            registryDirectory = directory.appendingPathComponent("registry-fs")
            try FileManager.default.createDirectory(at: registryDirectory, withIntermediateDirectories: true)
            let mount = try ManagedProcess.start(
                "mount",
                arguments: ["-t", "tmpfs", "-o", "size=\(tmpfsBytes),mode=0700", "tmpfs", registryDirectory.path])
            guard try await mount.waitForExit(timeout: .seconds(30)) == 0 else {
                throw FleetSimError(
                    "the disk-full scenario mounts a small tmpfs for the registry and needs root for it: "
                        + mount.output())
            }
        }
        let broker = try await Broker.start(config: persistence ?? shippedPersistence(), persistence: true)
        let keys = directory.appendingPathComponent("keys")
        try await FleetSite.createServiceKey(at: keys, broker: broker, binDirectory: binDirectory)
        let site = try FaultSite(
            broker: broker, directory: directory, registryDirectory: registryDirectory, tmpfs: registryOnTmpfs,
            serviceKeyDir: keys, binDirectory: binDirectory, keepAlive: keepAlive)
        try await site.startProvisiond()
        return site
    }

    public var servicePublicKeyPath: String { serviceKeyDir.appendingPathComponent("service.pub").path }
    public var registryPath: String { registryDirectory.appendingPathComponent("registry.sqlite").path }
    public var provisiondPID: Int32 { provisiond.withLock { $0?.pid ?? 0 } }

    /// Starts provisiond (again) on the same registry and key; returns once it says it is online.
    public func startProvisiond() async throws {
        let process = try ManagedProcess.start(
            try FleetSite.binary("provisiond", in: binDirectory),
            arguments: [
                "--port", String(serviceProxy.port), "--database", registryPath,
                "--service-key", serviceKeyDir.appendingPathComponent("service.key").path,
                "--keepalive", String(keepAlive), "--log-level", "info",
                // fleetctl's default account, and the one the duplicate requests come from.
                "--operator-role", "operator=admin", "--operator-role", "faults=admin",
            ])
        provisiond.withLock { $0 = process }
        logs.withLock { $0.append(process) }
        do {
            try await process.waitForOutput(containing: "provisiond online", timeout: .seconds(60))
        } catch {
            throw FleetSimError("provisiond did not start: \(process.output().suffix(2000))")
        }
    }

    /// SIGKILL: provisiond crashes with whatever it had in flight.
    public func killProvisiond() async {
        await provisiond.withLock { $0 }?.kill()
    }

    /// Sends `signal` (SIGSTOP, SIGCONT) to provisiond.
    public func signalProvisiond(_ signal: Int32) {
        let pid = provisiondPID
        if pid > 0 { _ = Glibc.kill(pid, signal) }
    }

    /// Sends `signal` to the broker.
    public func signalBroker(_ signal: Int32) {
        let pid = broker.pid
        if pid > 0 { _ = Glibc.kill(pid, signal) }
    }

    public var provisiondRunning: Bool { provisiond.withLock { $0?.isRunning ?? false } }

    /// The output of every provisiond run so far.
    public func provisiondLog() -> String {
        logs.withLock { $0 }.enumerated().map { "--- provisiond run \($0.offset + 1)\n\($0.element.output())" }
            .joined(separator: "\n")
    }

    /// Runs fleetctl against the broker directly (operators are not behind the proxies).
    public func fleetctl(_ arguments: [String], stdin: Data? = nil, timeout: Duration = .seconds(300)) async throws
        -> (status: Int32, output: String)
    {
        try await FleetSite.fleetctl(
            arguments, port: broker.port, stdin: stdin, binDirectory: binDirectory, timeout: timeout)
    }

    /// Starts fleetctl and returns the running process (for a command a fault interrupts).
    public func startFleetctl(_ arguments: [String]) throws -> ManagedProcess {
        try ManagedProcess.start(
            try FleetSite.binary("fleetctl", in: binDirectory), arguments: arguments + ["--port", String(broker.port)])
    }

    /// Reads the registry (read-only, beside the running provisiond: SQLite WAL allows it).
    public func readRegistry<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        let queue = try DatabaseQueue(path: registryPath, configuration: configuration)
        return try queue.read(body)
    }

    /// Checkpoints the registry's WAL into the database and truncates it to zero bytes (SQLite's
    /// `wal_checkpoint(TRUNCATE)`, safe beside the running provisiond; the contents do not change).
    public func checkpointRegistry() throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let queue = try DatabaseQueue(path: registryPath, configuration: configuration)
        try queue.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    /// CPU seconds (user + system) the running broker process used so far, from /proc.
    public func brokerCPUSeconds() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(broker.pid)/stat", encoding: .utf8),
            let end = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name: state is field 3, utime 14 and stime 15.
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Bytes the running broker process wrote to files so far (`write_bytes` of /proc/PID/io: its
    /// persistence saves and log).
    public func brokerBytesWritten() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(broker.pid)/io", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("write_bytes:") {
            return Int(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    /// Bytes of the broker's persistence file (mosquitto.db), 0 before its first save.
    public func brokerDatabaseBytes() -> Int {
        let path = broker.directory.appendingPathComponent("mosquitto.db").path
        return ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    public func stop() async {
        signalProvisiond(SIGCONT)
        signalBroker(SIGCONT)
        serviceProxy.set(.pass)
        await provisiond.withLock { $0 }?.terminate()
        await broker.stop()
        await serviceProxy.stop()
        await deviceProxy.stop()
        if tmpfs {
            if let unmount = try? ManagedProcess.start("umount", arguments: [registryDirectory.path]) {
                _ = try? await unmount.waitForExit(timeout: .seconds(30))
            }
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
