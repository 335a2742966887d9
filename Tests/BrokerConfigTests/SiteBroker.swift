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
    private var process: Process?
    private let logURL: URL

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// Runs site-setup.sh and starts mosquitto; waits until it listens.
    static func start(prefix: String = "bootstrap", operatorName: String = "operator") async throws -> SiteBroker {
        let base = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("fleet-broker-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        // The broker drops root privileges to the mosquitto user; it must be able to reach DIR.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: base.path)
        let localPort = try FreePort.tcp()
        let devicePort = try FreePort.tcp()
        let dir = base.appendingPathComponent("site")
        let setup = try run(
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
            site.stop()
            throw error
        }
        return site
    }

    private init(directory: URL, localPort: Int, devicePort: Int, prefix: String) {
        self.directory = directory
        self.localPort = localPort
        self.devicePort = devicePort
        self.prefix = prefix
        self.logURL = directory.deletingLastPathComponent().appendingPathComponent("mosquitto.log")
    }

    private func launch() async throws {
        // A fresh log per launch, so the wait below sees this start and not the previous one.
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
        p.arguments = ["-c", directory.appendingPathComponent("mosquitto.conf").path]
        p.standardOutput = log
        p.standardError = log
        try p.run()
        process = p
        // Startup is bounded; the loop ends as soon as the broker says it runs.
        for _ in 0..<200 {
            if logText().contains("mosquitto version") && logText().contains(" running") { return }
            if !p.isRunning { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw SiteError(message: "mosquitto did not start:\n\(logText())")
    }

    /// Stops mosquitto cleanly (SIGTERM, which saves the persistence database) and starts it again
    /// on the same ports and files.
    func restart() async throws {
        if let p = process, p.isRunning {
            p.terminate()
            p.waitUntilExit()
        }
        process = nil
        try await launch()
    }

    /// The broker's log so far.
    func logText() -> String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    /// A password from DIR/secrets.
    func password(of account: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent("secrets/\(account).password"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var caFile: String { directory.appendingPathComponent("certs/ca.crt").path }

    /// Stops mosquitto by PID and removes the site directory.
    func stop() {
        if let p = process, p.isRunning {
            p.terminate()
            p.waitUntilExit()
        }
        process = nil
        try? FileManager.default.removeItem(at: directory.deletingLastPathComponent())
    }

    deinit {
        if let p = process, p.isRunning {
            p.terminate()
            p.waitUntilExit()
        }
    }
}

struct SiteError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Runs a command with an argument vector (no shell) and returns its exit status and output.
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
