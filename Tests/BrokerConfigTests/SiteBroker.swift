import BrokerHarness
import Foundation
import Testing

/// A staging site made by `scripts/site-setup.sh` in a temporary directory, with mosquitto running
/// on the rendered, shipped `broker-config/mosquitto.conf` (only ports and paths substituted).
///
/// Not `Sendable` across tests: each test makes its own site and stops it, also on failure.
final class SiteBroker: @unchecked Sendable {
    // @unchecked: `process` is written once in `start` and read in `stop`; both run on the test's
    // own task, never concurrently.
    let directory: URL
    let localPort: Int
    let devicePort: Int
    let prefix: String
    private var process: ManagedProcess?

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// Runs site-setup.sh and starts mosquitto; waits until it listens. A free port that another
    /// test took between the check and mosquitto's bind is retried with new ports.
    static func start(prefix: String = "bootstrap", operatorName: String = "operator") async throws -> SiteBroker {
        var attempt = 1
        while true {
            do {
                return try await startOnce(prefix: prefix, operatorName: operatorName)
            } catch let error as SiteError where error.message.contains("Address already in use") && attempt < 5 {
                attempt += 1
            }
        }
    }

    private static func startOnce(prefix: String, operatorName: String) async throws -> SiteBroker {
        let base = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("fleet-broker-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        // The broker drops root privileges to the mosquitto user; it must be able to reach DIR.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: base.path)
        let localPort = try FreePort.tcp()
        let devicePort = try FreePort.tcp()
        let dir = base.appendingPathComponent("site")
        let setup = try await run(
            repositoryRoot.appendingPathComponent("scripts/site-setup.sh").path,
            [
                dir.path, "--prefix", prefix, "--hosts", "localhost", "--operator", operatorName,
                "--local-port", String(localPort), "--device-port", String(devicePort),
            ])
        guard setup.status == 0 else {
            try? FileManager.default.removeItem(at: base)
            throw SiteError(message: "site-setup.sh failed: \(setup.output)")
        }
        let site = SiteBroker(directory: dir, localPort: localPort, devicePort: devicePort, prefix: prefix)
        do {
            try await site.launch()
        } catch {
            await site.stop()
            throw error
        }
        return site
    }

    /// Runs `body` with a fresh site and stops the broker afterwards, also when `body` throws.
    static func with<T>(
        prefix: String = "bootstrap", operatorName: String = "operator", _ body: (SiteBroker) async throws -> T
    ) async throws -> T {
        let site = try await start(prefix: prefix, operatorName: operatorName)
        do {
            let result = try await body(site)
            await site.stop()
            return result
        } catch {
            await site.stop()
            throw error
        }
    }

    private init(directory: URL, localPort: Int, devicePort: Int, prefix: String) {
        self.directory = directory
        self.localPort = localPort
        self.devicePort = devicePort
        self.prefix = prefix
    }

    private func launch() async throws {
        // ManagedProcess spawns with a clean signal mask, so SIGTERM reaches mosquitto (a child of
        // Foundation's Process would inherit the test runner's blocked signals).
        let p = try ManagedProcess.start(
            "/usr/sbin/mosquitto", arguments: ["-c", directory.appendingPathComponent("mosquitto.conf").path])
        process = p
        do {
            try await p.waitForOutput(containing: " running", timeout: .seconds(10))
        } catch {
            throw SiteError(message: "mosquitto did not start:\n\(p.output())")
        }
    }

    /// Stops mosquitto cleanly (SIGTERM, which saves the persistence database) and starts it again
    /// on the same ports and files.
    func restart() async throws {
        if let p = process { await p.terminate() }
        process = nil
        try await launch()
    }

    /// The broker's log so far.
    func logText() -> String {
        process?.output() ?? ""
    }

    /// A password from DIR/secrets.
    func password(of account: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent("secrets/\(account).password"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var caFile: String { directory.appendingPathComponent("certs/ca.crt").path }

    /// Stops mosquitto by PID and removes the site directory.
    func stop() async {
        if let p = process { await p.terminate() }
        process = nil
        try? FileManager.default.removeItem(at: directory.deletingLastPathComponent())
    }
}

struct SiteError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Runs a command with an argument vector (no shell) and returns its exit status and output.
func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    let p = try ManagedProcess.start(executable, arguments: arguments)
    let status = try await p.waitForExit(timeout: .seconds(120))
    return (status, p.output())
}
