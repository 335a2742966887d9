import ArgumentParser
import FleetSim
import Foundation

/// `fleet-bench faults`: fault-injection scenarios against a private site, with figures.
struct FaultsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faults",
        abstract:
            "Break the site in the middle of a push (kill, stop, partition, duplicate, fill the disk); count what is lost.",
        discussion: """
            Each scenario starts mosquitto (persistence on, the autosave settings of \
            broker-config/mosquitto.conf), provisiond on a temporary SQLite registry and the fleet \
            (simulated devices plus real omega-agent processes with the uci stand-ins), enrolls, assigns \
            and pushes, injects its fault, repairs it and waits until every device has an outcome for its \
            latest seq. Prints devices, faults, time to converge, applied / failed / lost / \
            double-applied. Exits 1 when any scenario lost a device, applied or sealed a seq twice, or \
            left the registry failing PRAGMA integrity_check. Scenarios: \
            \(FaultScenario.allCases.map(\.rawValue).joined(separator: ", ")), or all.
            """)

    @Option(help: "Scenario name, or all.") var scenario = "all"
    @Option(help: "Devices in all.") var devices = 100
    @Option(help: "How many of them are real omega-agent processes.") var agents = 3
    @Option(help: "Keepalive of provisiond and the devices (s); outages last about twice this.") var keepalive = 5
    @Option(help: "Seconds to wait for the fleet to converge after the fault.") var timeout = 300
    @Option(help: "Write the reports as JSON to this file.") var json: String?
    @Option(help: "The broker's autosave_interval for this run (default: broker-config/mosquitto.conf's).")
    var autosaveInterval: Int?
    @Option(help: "The broker's autosave_on_changes for this run, true or false (default: the shipped one).")
    var autosaveOnChanges: Bool?

    func validate() throws {
        guard devices > 0, agents >= 0, agents <= devices else {
            throw ValidationError("--devices must be positive and --agents between 0 and --devices")
        }
        guard keepalive >= 5, timeout > 0 else {
            throw ValidationError("--keepalive must be at least 5, --timeout positive")
        }
        guard scenario == "all" || FaultScenario(rawValue: scenario) != nil else {
            throw ValidationError(
                "unknown scenario '\(scenario)'; use one of: \(FaultScenario.allCases.map(\.rawValue).joined(separator: ", ")), all"
            )
        }
    }

    func run() async throws {
        var options = FaultOptions(devices: devices)
        options.agents = agents
        options.keepAlive = keepalive
        options.convergeTimeout = .seconds(timeout)
        options.binDirectory = URL(fileURLWithPath: CommandLine.executablePath).deletingLastPathComponent()
        if autosaveInterval != nil || autosaveOnChanges != nil {
            var lines = FaultSite.shippedPersistence().split(separator: "\n").map(String.init)
            if let autosaveInterval {
                lines = lines.filter { !$0.hasPrefix("autosave_interval") } + ["autosave_interval \(autosaveInterval)"]
            }
            if let autosaveOnChanges {
                lines =
                    lines.filter { !$0.hasPrefix("autosave_on_changes") } + ["autosave_on_changes \(autosaveOnChanges)"]
            }
            options.brokerPersistence = lines.joined(separator: "\n")
            FileHandle.standardError.write(Data("broker persistence: \(lines.joined(separator: ", "))\n".utf8))
        }
        let scenarios = FaultScenario(rawValue: scenario).map { [$0] } ?? FaultScenario.allCases
        let runner = FaultRunner(options: options)
        var reports: [FaultReport] = []
        for scenario in scenarios {
            let report = try await runner.run(scenario) { line in
                FileHandle.standardError.write(Data("[\(scenario.rawValue)] \(line)\n".utf8))
            }
            print(report.rendered() + "\n")
            reports.append(report)
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(reports).write(to: URL(fileURLWithPath: json))
        }
        if reports.contains(where: { !$0.passed }) { throw ExitCode.failure }
    }
}
