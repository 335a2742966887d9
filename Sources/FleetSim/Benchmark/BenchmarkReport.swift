import Foundation

/// Latency percentiles in milliseconds (nearest rank).
public struct Percentiles: Codable, Sendable, Hashable {
    public var count: Int
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double

    init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        func rank(_ p: Double) -> Double {
            sorted[Swift.min(sorted.count - 1, Swift.max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))] * 1000
        }
        count = sorted.count
        p50 = rank(0.50)
        p90 = rank(0.90)
        p99 = rank(0.99)
        max = sorted[sorted.count - 1] * 1000
    }
}

/// What one scenario measured.
public struct ScenarioFigures: Codable, Sendable, Hashable {
    public var name: String
    /// Seconds since the run began when the scenario started.
    public var start: Double
    /// Devices the scenario expected to provision.
    public var devices: Int
    /// Devices that received a new envelope.
    public var configs: Int
    /// Devices whose `applied` provisiond registered (its `device.applied` audit event).
    public var ingested: Int
    /// Seconds from the start to the last registered `applied`, or to the last envelope when none.
    public var seconds: Double
    /// Envelopes received per second, from the start to the last one.
    public var helloToConfigRate: Double
    /// Registered `applied` statuses per second, from the first status published to the last registered.
    public var statusIngestionRate: Double
    /// Devices per second from the start until provisiond registered the last `applied`.
    public var endToEndRate: Double
    /// Devices that said hello (or were pushed to) and never received an envelope.
    public var lostConfigs: Int
    /// Devices that reported `applied` and provisiond never registered it.
    public var lostStatuses: Int
    /// Start (hello, or the push command) to envelope received.
    public var latency: Percentiles?

    var lost: Int { lostConfigs + lostStatuses }
    var complete: Bool { ingested == devices && lost == 0 }
}

/// The one-manifest enrollment and, when it failed, the chunked fallback that let the run go on.
public struct EnrollFigures: Codable, Sendable, Hashable {
    public var devices: Int
    public var manifestBytes: Int
    public var oneManifestSucceeded: Bool
    public var oneManifestSeconds: Double
    /// fleetctl's last output line when the one-manifest enroll failed.
    public var oneManifestError: String?
    public var devicesPerSecond: Double?
    public var fallbackChunk: Int?
    public var fallbackSeconds: Double?
    /// Devices fleetctl reported as enrolled, in all.
    public var enrolled: Int
}

/// `fleetctl push --group` as the operator sees it.
public struct PushFigures: Codable, Sendable, Hashable {
    public var exitStatus: Int32
    public var seconds: Double
    /// fleetctl's own count, e.g. `applied 9998/10000`, when it printed one.
    public var fleetctlSummary: String?
    public var scenario: ScenarioFigures
}

/// Hellos offered at a steady rate.
public struct SteadyFigures: Codable, Sendable, Hashable {
    public var offeredRate: Double
    public var targetRate: Int
    public var hellos: Int
    /// One hello → envelope with nothing else going on, in milliseconds.
    public var unloadedRoundTripMs: Double?
    public var scenario: ScenarioFigures
}

/// `fleetctl status --json` after the scenarios.
public struct StatusFigures: Codable, Sendable, Hashable {
    public var exitStatus: Int32
    public var seconds: Double
    public var outputBytes: Int
    public var rows: Int
    public var applied: Int
    public var error: String?
}

public struct RawFigures: Codable, Sendable, Hashable {
    public var messages: Int
    public var received: Int
    public var seconds: Double
    public var rate: Double
}

/// Throughput in one time bin of the run (per second).
public struct SeriesPoint: Codable, Sendable, Hashable {
    public var t: Double
    public var hellos: Double
    public var configs: Double
    public var ingested: Double
}

public struct PhaseMark: Codable, Sendable, Hashable {
    public var name: String
    public var t: Double
}

/// Every figure of one benchmark run; `failures` empty means every device ended `applied` and no
/// message was lost.
public struct BenchmarkReport: Codable, Sendable {
    public var devices: Int
    public var simulated: Int
    public var agents: Int
    public var machine: String
    public var binDirectory: String
    public var date: String
    public var raw: RawFigures?
    public var connectSeconds: Double?
    public var enroll: EnrollFigures?
    public var storm: ScenarioFigures?
    public var push: PushFigures?
    public var steady: SteadyFigures?
    public var status: StatusFigures?
    public var provisiondPeakRSS: Int?
    public var registryBytes: Int?
    public var registryBytesPerDevice: Double?
    /// The storm's end-to-end rate ÷ (raw rate / 4): a device needs four messages.
    public var ratioToBrokerBound: Double?
    /// Messages the benchmark's own clients dropped (their figures are then incomplete).
    public var benchDropped: Int
    public var totalSeconds: Double
    public var failures: [String]
    public var phases: [PhaseMark]
    public var series: [SeriesPoint]
}
