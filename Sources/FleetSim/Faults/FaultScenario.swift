import Foundation

/// A fault the runner injects into a site in the middle of provisioning.
public enum FaultScenario: String, CaseIterable, Sendable, Codable {
    /// mosquitto SIGKILLed while the push's configs go out, restarted with the shipped persistence.
    case brokerKill = "broker-kill"
    /// provisiond SIGKILLed while the push's configs go out, restarted on the same registry.
    case provisiondKillPush = "provisiond-kill-push"
    /// provisiond SIGKILLed during the enroll manifests, restarted; the operator repeats the one that failed.
    case provisiondKillEnroll = "provisiond-kill-enroll"
    /// provisiond SIGSTOPped for longer than its keepalive (the broker publishes its will), then SIGCONT.
    case provisiondStop = "provisiond-stop"
    /// mosquitto SIGSTOPped for longer than the keepalive of everyone, then SIGCONT.
    case brokerStop = "broker-stop"
    /// The link broker ↔ provisiond frozen for longer than the keepalive, then dropped, then healed.
    case partitionService = "partition-service"
    /// The link broker ↔ a share of the devices frozen for longer than the keepalive, then dropped, then healed.
    case partitionDevices = "partition-devices"
    /// Real agents SIGKILLed at each step of the apply (at `applying`, after the uci commit, after
    /// the report before its PUBACK) and restarted.
    case agentKill = "agent-kill"
    /// QoS 1 duplicates: hellos, statuses and an operator push request, each delivered twice.
    case duplicates = "duplicates"
    /// The registry's file system full (a small tmpfs): operator writes refused with `storage`,
    /// reads still answered, everything back once space returns.
    case diskFull = "disk-full"

    /// What the scenario does, for `--help` and the report.
    public var summary: String {
        switch self {
        case .brokerKill: "broker SIGKILL mid-push, restart with the shipped persistence"
        case .provisiondKillPush: "provisiond SIGKILL mid-push, restart"
        case .provisiondKillEnroll: "provisiond SIGKILL mid-enroll, restart, the failed manifest again"
        case .provisiondStop: "provisiond SIGSTOP longer than its keepalive, SIGCONT"
        case .brokerStop: "broker SIGSTOP longer than the keepalive, SIGCONT"
        case .partitionService: "broker <-> provisiond frozen longer than keepalive, then dropped, then healed"
        case .partitionDevices: "broker <-> a share of devices frozen longer than keepalive, then dropped, then healed"
        case .agentKill: "real agents SIGKILLed at applying / after commit / after report before PUBACK"
        case .duplicates: "hellos, statuses and an operator request delivered twice"
        case .diskFull: "registry file system full: storage errors, reads served, recovery"
        }
    }
}

/// How big and how long; `fleet-bench faults` fills it from its flags.
public struct FaultOptions: Sendable {
    /// Devices in all, simulated and real.
    public var devices: Int
    /// How many of them are real omega-agent processes (agent-kill needs 3).
    public var agents = 3
    /// Keepalive (seconds) of provisiond and the simulated devices; outages last about twice this.
    public var keepAlive = 5
    /// Share of the simulated devices behind the partitioned proxy.
    public var partitionShare = 0.25
    /// How long to wait for the fleet to settle after the fault.
    public var convergeTimeout: Duration = .seconds(300)
    public var binDirectory: URL?
    /// The broker's `autosave_*` lines; nil: those of the shipped `broker-config/mosquitto.conf`.
    public var brokerPersistence: String?

    public init(devices: Int) { self.devices = devices }
}

/// What a scenario run found.
public struct FaultReport: Sendable, Codable {
    public var scenario: FaultScenario
    public var devices: Int
    public var agents: Int
    /// The faults injected, in order.
    public var faults: [String] = []
    /// From the end of the fault (the process restarted, the link healed) until every device was
    /// `applied` with its latest seq (or `failed`); nil when it never converged.
    public var convergeSeconds: Double?
    /// Devices whose registry row is `applied` with their latest seq, and that hold that seq themselves.
    public var applied = 0
    /// Devices the registry shows `failed` for their latest seq.
    public var failed = 0
    /// Devices with neither outcome for their latest seq at the end.
    public var lost = 0
    /// (device, seq) pairs applied twice by a device, or with more than one outcome in the registry.
    public var doubleApplied = 0
    /// (device, seq) pairs sealed more than once (a seq reused).
    public var sealedTwice = 0
    /// `PRAGMA integrity_check` of the registry at the end.
    public var integrity = ""
    /// Scenario-specific observations (will fired, storage errors, ...).
    public var notes: [String] = []
    /// What went wrong; empty for a passing run.
    public var failures: [String] = []
    public var totalSeconds = 0.0

    public var passed: Bool { failures.isEmpty }

    /// The human-readable lines `fleet-bench faults` prints.
    public func rendered() -> String {
        var lines = [
            "scenario: \(scenario.rawValue) (\(scenario.summary))",
            "devices: \(devices) (\(agents) real agents)",
            "faults injected: \(faults.isEmpty ? "-" : faults.joined(separator: "; "))",
            "time to converge: \(convergeSeconds.map { String(format: "%.1f s", $0) } ?? "did not converge")",
            "applied \(applied) / failed \(failed) / lost \(lost) / double-applied \(doubleApplied)"
                + " / sealed twice \(sealedTwice)",
            "registry integrity_check: \(integrity)",
        ]
        lines += notes.map { "note: \($0)" }
        lines.append(String(format: "total: %.1f s", totalSeconds))
        lines.append(passed ? "PASS" : "FAIL")
        lines += failures.map { "  - \($0)" }
        return lines.joined(separator: "\n")
    }
}
