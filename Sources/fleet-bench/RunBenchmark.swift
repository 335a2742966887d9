import ArgumentParser
import FleetSim
import Foundation

/// `fleet-bench run`: the fleet simulator against a private broker and provisiond.
struct RunBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Provision a simulated fleet through a private mosquitto and provisiond; print the figures.",
        discussion: """
            Starts mosquitto (broker-config/dev.conf) and provisiond on a temporary SQLite registry, \
            measures the raw broker rate, enrolls every device from one manifest with fleetctl, then runs \
            the hello storm, a push to the group and a steady hello rate. Writes a table to stdout, and \
            JSON and SVG files to --out. Exits 1 when any device did not end applied or any message \
            was lost. provisiond and fleetctl come from the directory of this executable.
            """)

    @Option(help: "Devices in all.") var devices = 200
    @Option(help: "How many of them are real omega-agent processes (with the uci/wifi stand-ins).") var agents = 0
    @Option(help: "Hellos per second offered in the steady scenario.") var rate = 500
    @Option(help: "Seconds of the steady scenario (at most one hello per device).") var steadySeconds = 10
    @Option(help: "A scenario ends when nothing happened for this many seconds.") var idle = 20
    @Option(help: "Devices per manifest when one manifest for the whole fleet fails.") var enrollChunk = 100
    @Option(help: "fleetctl push --timeout.") var pushTimeout = 120
    @Option(help: "QoS 1 messages for the raw broker baseline (default: 5 per device, 10,000 to 50,000).")
    var rawMessages: Int?
    @Option(help: "provisiond --log-level.") var logLevel = "info"
    @Option(help: "Directory for the JSON and SVG files.") var out = ".build/fleet-bench"
    @Option(help: "Most simulated devices per process; more run in `fleet-bench worker` processes.")
    var devicesPerProcess = 3_000

    func validate() throws {
        guard devices > 0, agents >= 0, agents <= devices else {
            throw ValidationError("--devices must be positive and --agents between 0 and --devices")
        }
        guard rate > 0, steadySeconds > 0, idle > 0, enrollChunk > 0, pushTimeout > 0, devicesPerProcess > 0 else {
            throw ValidationError("rates, times and sizes must be positive")
        }
    }

    func run() async throws {
        var options = BenchmarkOptions(devices: devices)
        options.agents = agents
        options.rate = rate
        options.steadySeconds = steadySeconds
        options.idle = .seconds(idle)
        options.enrollChunk = enrollChunk
        options.pushTimeout = pushTimeout
        options.rawMessages = rawMessages ?? min(50_000, max(10_000, devices * 5))
        options.provisiondLogLevel = logLevel
        options.binDirectory = URL(fileURLWithPath: CommandLine.executablePath).deletingLastPathComponent()
        options.devicesPerProcess = devicesPerProcess
        options.workerExecutable = URL(fileURLWithPath: CommandLine.executablePath)
        let benchmark = FleetBenchmark(options: options)
        let progress = benchmark.reportProgress(interactive: isatty(STDERR_FILENO) == 1)
        let report = try await benchmark.run()
        progress.cancel()
        _ = await progress.value
        print(report.table(), terminator: "")
        let directory = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = directory.appendingPathComponent("fleet-bench-\(devices).json")
        let svg = directory.appendingPathComponent("fleet-bench-\(devices).svg")
        try encoder.encode(report).write(to: json)
        try Data(report.svg().utf8).write(to: svg)
        print("figures: \(json.path)\nplot:    \(svg.path)")
        if !report.failures.isEmpty { throw ExitCode.failure }
    }
}

extension CommandLine {
    /// This executable's path (/proc/self/exe), so sibling binaries of the same build are found.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}

/// `fleet-bench worker`: hosts a share of `fleet-bench run`'s simulated devices (started by it).
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulated devices for `fleet-bench run`, driven over stdin/stdout (started by `run`).",
        shouldDisplay: false)

    @Option(help: "Broker port on 127.0.0.1.") var port: Int
    @Option(help: "The service public key file.") var servicePubkey: String
    @Option(help: "Index of the first device (sim-NNNNN).") var first: Int
    @Option(help: "Number of devices.") var count: Int

    func run() async throws {
        try await SimulatorWorker.run(port: port, servicePublicKeyPath: servicePubkey, first: first, count: count)
    }
}
