import Foundation
import Glibc

/// Errors from starting and supervising child processes in tests.
public enum HarnessError: Error, Hashable, Sendable, CustomStringConvertible {
    case spawnFailed(executable: String, errno: Int32)
    case notFound(String)
    case timeout(String)
    case brokerDidNotStart(log: String)
    case toolFailed(command: String, status: Int32, output: String)
    case io(String)

    public var description: String {
        switch self {
        case .spawnFailed(let executable, let code):
            return "could not start \(executable): \(String(cString: strerror(code)))"
        case .notFound(let what): return "not found: \(what)"
        case .timeout(let what): return "timed out: \(what)"
        case .brokerDidNotStart(let log): return "mosquitto did not start; its log:\n\(log)"
        case .toolFailed(let command, let status, let output):
            return "\(command) exited with \(status):\n\(output)"
        case .io(let what): return "I/O error: \(what)"
        }
    }
}

// glibc declares it only under _GNU_SOURCE, which the Glibc module map does not define.
@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func spawnAddChdir(
    _ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>
) -> Int32

/// posix_spawn with stdout+stderr appended to `outputFile` and stdin from `stdinFile` (or /dev/null).
func spawnProcess(
    _ executable: String, arguments: [String], environment: [String: String]?,
    workingDirectory: URL?, stdinFile: String?, outputFile: String
) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, stdinFile ?? "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    if let workingDirectory {
        _ = spawnAddChdir(&actions, workingDirectory.path)
    }

    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    posix_spawnattr_setsigmask(&attr, &emptyMask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attr, &defaults)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    let env = environment ?? ProcessInfo.processInfo.environment
    let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for pointer in envp { free(pointer) } }

    var pid: pid_t = 0
    let rc: Int32
    if executable.contains("/") {
        rc = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
    } else {
        rc = posix_spawnp(&pid, executable, &actions, &attr, argv, envp)
    }
    guard rc == 0 else { throw HarnessError.spawnFailed(executable: executable, errno: rc) }
    return pid
}

/// Decodes a waitpid status: exit code, or 128 + signal number.
func exitCode(fromWaitStatus status: Int32) -> Int32 {
    let signal = status & 0x7f
    if signal == 0 { return (status >> 8) & 0xff }
    return 128 + signal
}

/// Runs a tool to completion (used for openssl and mosquitto_passwd in test setup).
@discardableResult
public func runTool(_ executable: String, _ arguments: [String], workingDirectory: URL? = nil) throws -> String {
    let out = FileManager.default.temporaryDirectory
        .appendingPathComponent("fleet-tool-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).out").path
    defer { unlink(out) }
    let pid = try spawnProcess(
        executable, arguments: arguments, environment: nil, workingDirectory: workingDirectory,
        stdinFile: nil, outputFile: out)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let output = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    let code = exitCode(fromWaitStatus: status)
    guard code == 0 else {
        throw HarnessError.toolFailed(
            command: ([executable] + arguments).joined(separator: " "), status: code, output: output)
    }
    return output
}
