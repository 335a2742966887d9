import FleetSim
import Foundation
import Testing

/// The fault-injection scenarios (`fleet-bench faults`) at 100 devices, one of each kind: real
/// mosquitto with the shipped persistence settings, real provisiond on SQLite, simulated devices and
/// real agents, each broken in the middle of a push and repaired. Nothing may be lost, applied twice
/// or sealed twice, and the registry must pass `PRAGMA integrity_check`. The 1,000-device runs are
/// `fleet-bench faults --devices 1000` (README, "Fault injection").
@Suite("Fault injection", .serialized)
struct FaultTests {
    static let fastSubset: [FaultScenario] = [
        .brokerKill, .provisiondKillPush, .provisiondKillEnroll, .provisiondStop, .partitionDevices, .agentKill,
        .duplicates, .diskFull,
    ]

    @Test(arguments: fastSubset)
    func scenarioLosesNothing(_ scenario: FaultScenario) async throws {
        var options = FaultOptions(devices: 100)
        options.agents = scenario == .agentKill ? 3 : 1
        let report = try await FaultRunner(options: options).run(scenario)
        #expect(report.lost == 0, "\(report.rendered())")
        #expect(report.doubleApplied == 0, "\(report.rendered())")
        #expect(report.sealedTwice == 0, "\(report.rendered())")
        #expect(report.integrity == "ok", "\(report.rendered())")
        #expect(report.passed, "\(report.rendered())")
    }
}
