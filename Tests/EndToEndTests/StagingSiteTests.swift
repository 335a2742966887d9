import BrokerHarness
import FleetCtlCore
import FleetProtocol
import FleetSim
import Foundation
import MQTT
import Testing

/// provisiond on a staging-site broker made by scripts/site-setup.sh: every client authenticated,
/// device accounts created and removed by provisiond through the dynamic security plugin.
@Suite("End to end on a staging-site broker", .serialized)
struct StagingSiteTests {
    @Test func enrolledDeviceLogsInWithDerivedPasswordAndLosesItAfterRevoke() async throws {
        let root = BinaryLocator.packageRoot()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fleet-staging-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: base.path)
        defer { try? FileManager.default.removeItem(at: base) }
        let site = base.appendingPathComponent("site")
        let localPort = try FreePort.tcp()
        let setup = try ManagedProcess.start(
            root.appendingPathComponent("scripts/site-setup.sh").path,
            arguments: [
                site.path, "--prefix", "bootstrap", "--hosts", "localhost", "--operator", "alice",
                "--local-port", String(localPort), "--device-port", String(try FreePort.tcp()),
            ])
        guard try await setup.waitForExit(timeout: .seconds(120)) == 0 else {
            Issue.record("site-setup.sh failed: \(setup.output())")
            return
        }
        let broker = try ManagedProcess.start(
            "/usr/sbin/mosquitto", arguments: ["-c", site.appendingPathComponent("mosquitto.conf").path])
        var processes: [ManagedProcess] = [broker]
        var device: SimulatedDevice?
        do {
            try await broker.waitForOutput(containing: " running", timeout: .seconds(10))
            let keys = base.appendingPathComponent("keys")
            #expect(try await fleetctl(["keys", "create", "--out", keys.path]).status == 0)
            let provisiond = try ManagedProcess.start(
                try BinaryLocator.path(of: "provisiond"),
                arguments: [
                    "--port", String(localPort), "--username", "provisiond",
                    "--password-file", site.appendingPathComponent("secrets/provisiond.password").path,
                    "--database", base.appendingPathComponent("registry.sqlite").path,
                    "--service-key", keys.appendingPathComponent("service.key").path, "--manage-broker-accounts",
                ])
            processes.append(provisiond)
            try await provisiond.waitForOutput(containing: "provisiond online", timeout: .seconds(30))
            let operatorArgs = [
                "--port", String(localPort), "--username", "alice",
                "--password-file", site.appendingPathComponent("secrets/alice.password").path,
            ]
            let serviceKey = try KeyFile.loadPublicKey(from: keys.appendingPathComponent("service.pub").path)

            let sim = try SimulatedDevice(
                id: "staged-1", port: localPort, servicePublicKey: serviceKey, derivedCredentials: true)
            device = sim
            await #expect(throws: (any Error).self) { try await sim.start() }

            let enrolled = try await fleetctl(["enroll", sim.uri, "--group", "lab"] + operatorArgs)
            #expect(enrolled.status == 0, "\(enrolled.output)")
            // The same client logs in once provisiond created its account.
            try await eventually("device account created") {
                do {
                    try await sim.start()
                    return true
                } catch {
                    return false
                }
            }
            let sealed = try await fleetctl(
                ["profile", "add", "office", "--ssid", "Office", "--encryption", "psk2", "--key-stdin"] + operatorArgs
                    + ["--service-fingerprint", Fingerprint.of(serviceKey)],
                stdin: Data("staging site passphrase\n".utf8))
            #expect(sealed.status == 0, "\(sealed.output)")
            #expect(try await fleetctl(["assign", "office", "--group", "lab"] + operatorArgs).status == 0)
            let pushed = try await fleetctl(["push", "--group", "lab", "--timeout", "30"] + operatorArgs)
            #expect(pushed.status == 0, "\(pushed.output)\n\(provisiond.output())")
            #expect(await sim.appliedProfiles().last?.ssid == "Office")

            #expect(try await fleetctl(["revoke", "staged-1"] + operatorArgs).status == 0)
            try await eventually("reset confirmed and account removed") {
                provisiond.output().contains("broker account removal requested")
            }
            #expect(await sim.wasReset())
            await sim.stop()
            try await Task.sleep(for: .milliseconds(500))
            await #expect(throws: (any Error).self) { try await sim.start() }
            #expect(!provisiond.output().contains("broker account command failed"), "\(provisiond.output())")
        } catch {
            Issue.record(
                "\(error)\nprovisiond:\n\(processes.dropFirst().first?.output() ?? "")\nbroker:\n\(broker.output())")
        }
        await device?.stop()
        for process in processes.reversed() { _ = await process.terminate() }
    }

    private func fleetctl(_ arguments: [String], stdin: Data? = nil) async throws -> (status: Int32, output: String) {
        let process = try ManagedProcess.start(
            try BinaryLocator.path(of: "fleetctl"), arguments: arguments, stdin: stdin)
        let status = try await process.waitForExit(timeout: .seconds(120))
        return (status, process.output())
    }
}
