import Foundation
import Glibc
import Synchronization

/// A child process started for a test (mosquitto, the agent, provisiond, fleetctl).
///
/// stdout and stderr go to one file in a private temporary directory; `output()` reads it.
/// The process is reaped exactly once (its exit code is cached), so a PID is never signalled
/// after it could have been reused. `deinit` SIGKILLs a process that is still running.
public final class ManagedProcess: Sendable {
    private struct State {
        var exitCode: Int32?
    }

    public let pid: Int32
    public let executable: String
    /// The file holding stdout+stderr.
    public let outputURL: URL
    private let scratch: URL
    private let state = Mutex(State())

    private init(pid: Int32, executable: String, outputURL: URL, scratch: URL) {
        self.pid = pid
        self.executable = executable
        self.outputURL = outputURL
        self.scratch = scratch
    }

    /// Starts `executable` (a path, or a name looked up in PATH).
    /// - Parameters:
    ///   - environment: the complete environment; `nil` inherits this process's environment.
    ///   - stdin: bytes the child reads on its standard input (then end of file).
    public static func start(
        _ executable: String, arguments: [String], environment: [String: String]? = nil,
        workingDirectory: URL? = nil, stdin: Data? = nil
    ) throws -> ManagedProcess {
        try start(
            executable, arguments: arguments, environment: environment, workingDirectory: workingDirectory,
            stdin: stdin, outputURL: nil)
    }

    static func start(
        _ executable: String, arguments: [String], environment: [String: String]?,
        workingDirectory: URL?, stdin: Data?, outputURL explicitOutput: URL?
    ) throws -> ManagedProcess {
        let scratch = try makeTemporaryDirectory(prefix: "fleet-proc")
        let outputURL = explicitOutput ?? scratch.appendingPathComponent("output.log")
        var stdinPath: String?
        if let stdin {
            let url = scratch.appendingPathComponent("stdin")
            guard
                FileManager.default.createFile(
                    atPath: url.path, contents: stdin, attributes: [.posixPermissions: 0o600])
            else { throw HarnessError.io("cannot write \(url.path)") }
            stdinPath = url.path
        }
        let pid = try spawnProcess(
            executable, arguments: arguments, environment: environment, workingDirectory: workingDirectory,
            stdinFile: stdinPath, outputFile: outputURL.path)
        return ManagedProcess(pid: pid, executable: executable, outputURL: outputURL, scratch: scratch)
    }

    /// stdout and stderr so far.
    public func output() -> String {
        guard let data = FileManager.default.contents(atPath: outputURL.path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The exit code (128+signal for a signal) if the process has exited; reaps it.
    public func exitCodeIfExited() -> Int32? {
        state.withLock { state in
            if let code = state.exitCode { return code }
            var status: Int32 = 0
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid {
                state.exitCode = exitCode(fromWaitStatus: status)
            } else if rc == -1 && errno == ECHILD {
                state.exitCode = -1  // reaped elsewhere; treat as gone
            }
            return state.exitCode
        }
    }

    public var isRunning: Bool { exitCodeIfExited() == nil }

    private func signal(_ sig: Int32) {
        state.withLock { state in
            if state.exitCode == nil { _ = Glibc.kill(pid, sig) }
        }
    }

    /// Waits until the process exits and returns its exit code.
    /// - Throws: `HarnessError.timeout` if it is still running after `timeout`.
    public func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let code = exitCodeIfExited() { return code }
            if ContinuousClock.now >= deadline { throw HarnessError.timeout("\(executable) (pid \(pid)) to exit") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// SIGTERM, wait up to 5 s, then SIGKILL. Returns the exit code. Idempotent.
    @discardableResult
    public func terminate() async -> Int32 {
        await terminate(grace: .seconds(5))
    }

    @discardableResult
    public func terminate(grace: Duration) async -> Int32 {
        signal(SIGTERM)
        if let code = try? await waitForExit(timeout: grace) { return code }
        return await killAndReap()
    }

    /// SIGKILL (simulates a crash) and reap.
    public func kill() async {
        _ = await killAndReap()
    }

    private func killAndReap() async -> Int32 {
        signal(SIGKILL)
        while true {
            if let code = exitCodeIfExited() { return code }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits until the output contains `text`.
    /// - Throws: `HarnessError.timeout` with the output so far.
    public func waitForOutput(containing text: String, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while !output().contains(text) {
            if ContinuousClock.now >= deadline {
                throw HarnessError.timeout("\"\(text)\" in output of \(executable):\n\(output())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    deinit {
        // Last resort: a test that forgot to stop its process must not leave it running.
        state.withLock { state in
            if state.exitCode == nil {
                _ = Glibc.kill(pid, SIGKILL)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            }
        }
        try? FileManager.default.removeItem(at: scratch)
    }
}

func makeTemporaryDirectory(prefix: String) throws -> URL {
    var template = Array(
        FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-XXXXXX").path.utf8CString)
    guard let result = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw HarnessError.io("mkdtemp failed: \(String(cString: strerror(errno)))")
    }
    return URL(fileURLWithPath: String(cString: result), isDirectory: true)
}
