import BrokerHarness
import Crypto
import FleetProtocol
import Foundation
import MQTT
import Synchronization

/// What to run; `fleet-bench run` fills it from its flags.
public struct BenchmarkOptions: Sendable {
    /// Devices in all, simulated and real.
    public var devices: Int
    /// How many of them are real `omega-agent` processes.
    public var agents = 0
    /// Hellos per second offered in the steady scenario, for `steadySeconds`.
    public var rate = 500
    public var steadySeconds = 10
    /// A scenario ends when every device is done or nothing happened for this long.
    public var idle: Duration = .seconds(20)
    /// Devices per `fleetctl enroll --manifest` when one manifest for all fails.
    public var enrollChunk = 100
    /// `fleetctl push --timeout`.
    public var pushTimeout = 120
    /// QoS 1 messages for the raw-broker baseline.
    public var rawMessages = 20_000
    public var binDirectory: URL?
    public var provisiondLogLevel = "info"
    public var connectConcurrency = 256
    /// The most simulated devices in one process; more go to worker processes (3 file descriptors
    /// per MQTT client against the per-process limit).
    public var devicesPerProcess = 3_000
    /// The `fleet-bench` executable, re-run as `fleet-bench worker` for the worker processes.
    public var workerExecutable: URL?

    public init(devices: Int) { self.devices = devices }
}

/// Runs the scenarios against a private broker and provisiond: raw broker baseline, enroll from one
/// manifest, hello storm, push to the group, steady hello rate, then `fleetctl status`.
public final class FleetBenchmark: Sendable {
    let options: BenchmarkOptions
    let timeline = Timeline()
    private let phase = Mutex<(name: String, pid: Int32)>(("start", 0))
    private let phases = Mutex<[PhaseMark]>([])
    static let group = "bench"
    static let profile = "bench-office"
    static let ssid = "BenchOffice"
    /// The profile's key; the real agents' simulated access point accepts only this one.
    static let premisesKey = "bench-premises-key-1"

    public init(options: BenchmarkOptions) { self.options = options }

    /// The current scenario and provisiond's PID, for the progress line.
    var current: (name: String, pid: Int32) { phase.withLock { $0 } }
    /// Counts so far of hellos, envelopes received, `applied` published and registered.
    var counts: (hellos: Int, configs: Int, applied: Int, ingested: Int) {
        (timeline.count(.hello), timeline.count(.config), timeline.count(.applied), timeline.count(.ingested))
    }

    private func enter(_ name: String) {
        phase.withLock { $0.name = name }
        phases.withLock { $0.append(PhaseMark(name: name, t: timeline.now())) }
    }

    /// Runs everything; the report's `failures` say what went wrong (a failing scenario does not
    /// stop the later ones unless the fleet cannot go on).
    public func run() async throws -> BenchmarkReport {
        let n = options.devices
        let agentCount = min(options.agents, n)
        var report = BenchmarkReport(
            devices: n, simulated: n - agentCount, agents: agentCount, machine: Self.machine(),
            binDirectory: options.binDirectory?.path ?? "", date: ISO8601DateFormatter().string(from: Date()),
            benchDropped: 0, totalSeconds: 0, failures: [], phases: [], series: [])
        // Each simulated device's client holds its socket and libmosquitto's internal socket pair.
        let limit = ProcessStats.raiseOpenFileLimit()
        let inProcess =
            options.workerExecutable == nil ? n - agentCount : min(n - agentCount, options.devicesPerProcess)
        let needed = 3 * inProcess + 256
        guard limit >= needed else {
            throw FleetSimError(
                "\(inProcess) simulated devices in one process need about \(needed) open files (3 per MQTT client), "
                    + "and a process may open \(limit) (the hard limit, `ulimit -Hn`): lower --devices-per-process")
        }
        let site = try await FleetSite.start(binDirectory: options.binDirectory, logLevel: options.provisiondLogLevel)
        phase.withLock { $0.pid = site.provisiond.pid }
        var fleet: Fleet?
        var monitor: FleetMonitor?
        do {
            enter("raw broker")
            let raw = try await RawBrokerRate.measure(port: site.broker.port, messages: options.rawMessages)
            report.raw = RawFigures(
                messages: raw.messages, received: raw.received, seconds: raw.seconds, rate: raw.rate)
            if raw.lost > 0 { report.failures.append("raw broker: \(raw.lost) of \(raw.messages) QoS 1 messages lost") }

            enter("keys")
            let built = try await Fleet.make(
                simulated: n - agentCount, agents: agentCount, perProcess: options.devicesPerProcess,
                workerExecutable: options.workerExecutable, site: site, timeline: timeline)
            fleet = built
            monitor = try await FleetMonitor(
                port: site.broker.port, prefix: site.prefix, timeline: timeline, index: built.index,
                agents: built.agents.map(\.id))
            try await scenarios(site: site, fleet: built, report: &report)
        } catch {
            report.failures.append("run stopped: \(error)")
        }
        report.provisiondPeakRSS = ProcessStats.peakRSS(pid: site.provisiond.pid)
        report.registryBytes = ProcessStats.sqliteBytes(site.registryPath)
        report.registryBytesPerDevice = report.registryBytes.map { Double($0) / Double(max(1, n)) }
        if !site.provisiond.isRunning {
            report.failures.append("provisiond exited: \(site.provisiond.output().suffix(400))")
        }
        enter("stop")
        report.benchDropped = (monitor?.dropped ?? 0) + (await fleet?.dropped ?? 0)
        if report.benchDropped > 0 {
            report.failures.append("the benchmark's own clients dropped \(report.benchDropped) messages")
        }
        await fleet?.stop()
        await monitor?.stop()
        await site.stop()
        report.totalSeconds = timeline.now()
        report.phases = phases.withLock { $0 }
        report.series = Self.series(timeline.marks())
        return report
    }

    private func scenarios(site: FleetSite, fleet: Fleet, report: inout BenchmarkReport) async throws {
        enter("enroll")
        let enroll = try await enrollAll(site: site, fleet: fleet)
        report.enroll = enroll
        if !enroll.oneManifestSucceeded {
            report.failures.append(
                "enroll: one manifest of \(enroll.devices) devices (\(enroll.manifestBytes) bytes) failed: "
                    + (enroll.oneManifestError ?? "?"))
        }
        guard enroll.enrolled == fleet.count else {
            report.failures.append("enroll: \(enroll.enrolled) of \(fleet.count) devices enrolled")
            return
        }
        try await addProfile(site: site, key: Self.premisesKey)
        try await checked(site.fleetctl(["assign", Self.profile, "--group", Self.group]), "assign")

        enter("connect")
        let connectStart = timeline.now()
        try await fleet.connectSimulated(concurrency: options.connectConcurrency)
        report.connectSeconds = timeline.now() - connectStart

        enter("hello storm")
        let storm = await helloStorm(fleet: fleet)
        report.storm = storm
        if !storm.complete { report.failures.append(Self.describe(storm)) }

        enter("push")
        let push = try await pushToGroup(site: site, fleet: fleet)
        report.push = push
        if push.exitStatus != 0 || !push.scenario.complete {
            report.failures.append(
                Self.describe(push.scenario)
                    + ", fleetctl push exit \(push.exitStatus) (\(push.fleetctlSummary ?? "-"))")
        }

        enter("steady rate")
        let steady = try await steadyRate(site: site, fleet: fleet)
        report.steady = steady
        if !steady.scenario.complete { report.failures.append(Self.describe(steady.scenario)) }

        enter("status")
        let status = try await statusCheck(site: site)
        report.status = status
        if status.exitStatus != 0 || status.rows != fleet.count || status.applied != fleet.count {
            report.failures.append(
                "status: exit \(status.exitStatus), \(status.applied) of \(fleet.count) devices applied "
                    + "(\(status.rows) rows)\(status.error.map { ": \($0)" } ?? "")")
        }
        if let raw = report.raw, raw.rate > 0, storm.endToEndRate > 0 {
            report.ratioToBrokerBound = storm.endToEndRate / (raw.rate / 4)
        }
    }

    private static func describe(_ s: ScenarioFigures) -> String {
        "\(s.name): \(s.ingested) of \(s.devices) applied, \(s.lostConfigs) configs and \(s.lostStatuses) statuses lost"
    }

    /// Saves the benchmark's profile with `key` (again: a new revision) through fleetctl.
    private func addProfile(site: FleetSite, key: String) async throws {
        try await checked(
            site.fleetctl(
                [
                    "profile", "add", Self.profile, "--ssid", Self.ssid, "--encryption", "psk2", "--key-stdin",
                    "--service-pubkey", site.servicePublicKeyPath,
                ], stdin: Data("\(key)\n".utf8)), "profile add")
    }

    private func checked(_ result: (status: Int32, output: String), _ what: String) throws {
        guard result.status == 0 else { throw FleetSimError("fleetctl \(what) failed: \(result.output)") }
    }

    // MARK: scenarios

    /// One `fleetctl enroll --manifest` for every device; when that fails, chunks so the run can go on.
    private func enrollAll(site: FleetSite, fleet: Fleet) async throws -> EnrollFigures {
        let manifest = site.directory.appendingPathComponent("manifest.csv")
        let lines = fleet.uris.map { "\($0),\(Self.group)\n" }
        let text = "uri,group\n" + lines.joined()
        try text.write(to: manifest, atomically: true, encoding: .utf8)
        let start = timeline.now()
        let one = try await site.fleetctl(["enroll", "--manifest", manifest.path], timeout: .seconds(600))
        let oneSeconds = timeline.now() - start
        var figures = EnrollFigures(
            devices: fleet.count, manifestBytes: text.utf8.count, oneManifestSucceeded: one.status == 0,
            oneManifestSeconds: oneSeconds, enrolled: Self.enrolledCount(one.output))
        if one.status == 0 {
            figures.devicesPerSecond = Double(figures.enrolled) / max(oneSeconds, 1e-6)
            return figures
        }
        figures.oneManifestError =
            one.output.split(separator: "\n").last.map(String.init) ?? "exit \(one.status)"
        let chunk = max(1, options.enrollChunk)
        let fallbackStart = timeline.now()
        var enrolled = 0
        for (number, first) in stride(from: 0, to: lines.count, by: chunk).enumerated() {
            let part = site.directory.appendingPathComponent("manifest-\(number).csv")
            try ("uri,group\n" + lines[first..<min(first + chunk, lines.count)].joined()).write(
                to: part, atomically: true, encoding: .utf8)
            let result = try await site.fleetctl(["enroll", "--manifest", part.path])
            guard result.status == 0 else {
                throw FleetSimError("fleetctl enroll of \(chunk) devices failed too: \(result.output)")
            }
            enrolled += Self.enrolledCount(result.output)
        }
        figures.fallbackChunk = chunk
        figures.fallbackSeconds = timeline.now() - fallbackStart
        figures.enrolled = enrolled
        return figures
    }

    private static func enrolledCount(_ output: String) -> Int {
        output.split(separator: "\n").filter { $0.hasPrefix("enrolled ") }.count
    }

    /// Every device says hello at once; real agents start (boot) at the same moment.
    private func helloStorm(fleet: Fleet) async -> ScenarioFigures {
        let from = timeline.markCount
        let start = timeline.now()
        let ingestedBefore = timeline.count(.ingested)
        fleet.startAgents()
        await fleet.sayHello(Array(0..<fleet.simulatedCount), timeline: timeline)
        await waitUntil { self.timeline.count(.ingested) - ingestedBefore >= fleet.count }
        return analyse("hello storm", from: from, start: start, devices: Set(0..<fleet.count), latencyFromHello: true)
    }

    /// `fleetctl push --group` to every device, while the fleet applies what it gets.
    private func pushToGroup(site: FleetSite, fleet: Fleet) async throws -> PushFigures {
        let from = timeline.markCount
        let start = timeline.now()
        let ingestedBefore = timeline.count(.ingested)
        let pushed = try await site.fleetctl(
            ["push", "--group", Self.group, "--timeout", String(options.pushTimeout)],
            timeout: .seconds(options.pushTimeout + 120))
        let seconds = timeline.now() - start
        await waitUntil { self.timeline.count(.ingested) - ingestedBefore >= fleet.count }
        let summary = pushed.output.ranges(of: #/applied \d+/\d+/#).last.map { String(pushed.output[$0]) }
        return PushFigures(
            exitStatus: pushed.status, seconds: seconds, fleetctlSummary: summary,
            scenario: analyse("push", from: from, start: start, devices: Set(0..<fleet.count), latencyFromHello: false))
    }

    /// A new profile revision, one unloaded round trip, then hellos at `rate` per second.
    private func steadyRate(site: FleetSite, fleet: Fleet) async throws -> SteadyFigures {
        try await addProfile(site: site, key: "bench-premises-key-2")  // a new revision
        let sims = fleet.simulatedCount
        var roundTrip: Double?
        if sims > 0 {
            let from = timeline.markCount
            await fleet.sayHello([0], timeline: timeline)
            await waitUntil(idle: .seconds(10)) { self.timeline.marks(from: from).contains { $0.kind == .config } }
            let marks = timeline.marks(from: from)
            if let hello = marks.first(where: { $0.kind == .hello }),
                let config = marks.first(where: { $0.kind == .config })
            {
                roundTrip = (config.time - hello.time) * 1000
            }
            let ingested = timeline.count(.ingested)
            await waitUntil(idle: .seconds(10)) { self.timeline.count(.ingested) > ingested }
        }
        let hellos = max(0, min(options.rate * options.steadySeconds, sims - 1))
        let devices = Array(1..<(1 + hellos))
        let from = timeline.markCount
        let start = timeline.now()
        let ingestedBefore = timeline.count(.ingested)
        await fleet.sayHello(devices, timeline: timeline, rate: Double(options.rate))
        let offered = Double(hellos) / max(timeline.now() - start, 1e-6)
        await waitUntil { self.timeline.count(.ingested) - ingestedBefore >= hellos }
        return SteadyFigures(
            offeredRate: offered, targetRate: options.rate, hellos: hellos, unloadedRoundTripMs: roundTrip,
            scenario: analyse("steady rate", from: from, start: start, devices: Set(devices), latencyFromHello: true))
    }

    private func statusCheck(site: FleetSite) async throws -> StatusFigures {
        let start = timeline.now()
        let result = try await site.fleetctl(["status", "--json"], timeout: .seconds(120))
        let seconds = timeline.now() - start
        var figures = StatusFigures(
            exitStatus: result.status, seconds: seconds, outputBytes: result.output.utf8.count, rows: 0, applied: 0)
        if result.status == 0, let table = try? JSONDecoder().decode(StatusResult.self, from: Data(result.output.utf8))
        {
            figures.rows = table.devices.count
            figures.applied = table.devices.filter { $0.state == .applied }.count
        } else {
            figures.error = result.output.split(separator: "\n").last.map(String.init) ?? "no output"
        }
        return figures
    }

    /// Waits until `done` or nothing new happened for `idle`.
    private func waitUntil(idle: Duration? = nil, _ done: @Sendable () -> Bool) async {
        let idle = idle ?? options.idle
        var seen = timeline.markCount
        var lastChange = ContinuousClock.now
        while !done() {
            try? await Task.sleep(for: .milliseconds(50))
            let count = timeline.markCount
            if count != seen {
                seen = count
                lastChange = .now
            } else if ContinuousClock.now - lastChange > idle {
                return
            }
        }
    }

    // MARK: figures

    /// The figures of one scenario from its marks.
    func analyse(
        _ name: String, from: Int, start: Double, devices: Set<Int>, latencyFromHello: Bool
    ) -> ScenarioFigures {
        var hello: [Int: Double] = [:]
        var config: [Int: (seq: UInt64, time: Double)] = [:]
        var applied: [Int: Double] = [:]
        var ingested: [Int: Double] = [:]
        for mark in timeline.marks(from: from) where devices.contains(mark.device) {
            switch mark.kind {
            case .hello: if hello[mark.device] == nil { hello[mark.device] = mark.time }
            case .config: if config[mark.device] == nil { config[mark.device] = (mark.seq, mark.time) }
            case .applied: if applied[mark.device] == nil { applied[mark.device] = mark.time }
            case .ingested: if ingested[mark.device] == nil { ingested[mark.device] = mark.time }
            }
        }
        let latencies = config.compactMap { device, c in
            latencyFromHello ? hello[device].map { c.time - $0 } : c.time - start
        }
        let lastConfig = config.values.map(\.time).max() ?? start
        let lastIngested = ingested.values.max()
        let firstApplied = applied.values.min() ?? start
        let end = lastIngested ?? lastConfig
        let expected = latencyFromHello ? Set(hello.keys) : devices
        return ScenarioFigures(
            name: name, start: start, devices: devices.count, configs: config.count, ingested: ingested.count,
            seconds: end - start,
            helloToConfigRate: Double(config.count) / max(lastConfig - start, 1e-6),
            statusIngestionRate: lastIngested.map { Double(ingested.count) / max($0 - firstApplied, 1e-6) } ?? 0,
            endToEndRate: lastIngested.map { Double(ingested.count) / max($0 - start, 1e-6) } ?? 0,
            lostConfigs: expected.filter { config[$0] == nil }.count + (devices.count - expected.count),
            lostStatuses: applied.keys.filter { ingested[$0] == nil }.count,
            latency: Percentiles(latencies))
    }

    /// Per-second rates over the run, in about 200 bins.
    static func series(_ marks: ArraySlice<Timeline.Mark>) -> [SeriesPoint] {
        guard let end = marks.map(\.time).max(), end > 0 else { return [] }
        let width = max(0.25, (end / 200).rounded(.up))
        let bins = Int((end / width).rounded(.up)) + 1
        var points = (0..<bins).map { SeriesPoint(t: Double($0) * width, hellos: 0, configs: 0, ingested: 0) }
        for mark in marks {
            let i = min(bins - 1, Int(mark.time / width))
            switch mark.kind {
            case .hello: points[i].hellos += 1 / width
            case .config: points[i].configs += 1 / width
            case .ingested: points[i].ingested += 1 / width
            case .applied: break
            }
        }
        return points
    }

    static func machine() -> String {
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        let memory = ProcessInfo.processInfo.physicalMemory / (1 << 30)
        let model =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
            .first { $0.hasPrefix("model name") }?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces)
            ?? "unknown CPU"
        return "\(cpus) vCPU \(model), \(memory) GiB, \(ProcessInfo.processInfo.operatingSystemVersionString)"
    }
}
