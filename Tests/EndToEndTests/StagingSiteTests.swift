import BrokerHarness
import FleetCtlCore
import FleetProtocol
import Foundation
import MQTT
import Testing

/// provisiond on a staging-site broker made by scripts/site-setup.sh: every client authenticated,
/// device accounts created and removed by provisiond through the dynamic security plugin.
@Suite("End to end on a staging-site broker", .serialized)
struct StagingSiteTests {
    @Test func enrolledDeviceLogsInWithDerivedPasswordAndLosesItAfterRevoke() async throws {
        try await StagingSite.with { site in
            let sim = try SimulatedDevice(
                id: "staged-1", port: site.localPort, servicePublicKey: site.serviceKey, derivedCredentials: true)
            await #expect(throws: (any Error).self) { try await sim.start() }

            let enrolled = try await site.fleetctl(["enroll", sim.uri, "--group", "lab"])
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
            let sealed = try await site.fleetctl(
                [
                    "profile", "add", "office", "--ssid", "Office", "--encryption", "psk2", "--key-stdin",
                    "--service-fingerprint", Fingerprint.of(site.serviceKey),
                ],
                stdin: Data("staging site passphrase\n".utf8))
            #expect(sealed.status == 0, "\(sealed.output)")
            #expect(try await site.fleetctl(["assign", "office", "--group", "lab"]).status == 0)
            let pushed = try await site.fleetctl(["push", "--group", "lab", "--timeout", "30"])
            #expect(pushed.status == 0, "\(pushed.output)\n\(site.provisiond.output())")
            #expect(await sim.appliedProfiles().last?.ssid == "Office")

            #expect(try await site.fleetctl(["revoke", "staged-1"]).status == 0)
            try await eventually("reset confirmed and account removed") {
                site.provisiond.output().contains("broker account removal requested")
            }
            #expect(await sim.wasReset())
            await sim.stop()
            try await Task.sleep(for: .milliseconds(500))
            await #expect(throws: (any Error).self) { try await sim.start() }
            let log = site.provisiond.output()
            #expect(!log.contains("broker account command failed"), "\(log)")
        }
    }

    /// Issue 12, F3: an operator enrolling, revoking and enrolling again an id that is a site
    /// account name must neither delete that account nor replace it with one whose password derives
    /// from the operator's key.
    @Test func siteAccountsCannotBeEnrolledRevokedOrDeleted() async throws {
        try await StagingSite.with { site in
            // Reserved names are refused outright, by enroll and by revoke, and change nothing.
            for name in ["monitor", "hello", "admin", "provisiond"] {
                let device = try SimulatedDevice(id: name, port: site.localPort, servicePublicKey: site.serviceKey)
                let enrolled = try await site.fleetctl(["enroll", device.uri])
                #expect(enrolled.status != 0 && enrolled.output.contains("reserved_id"), "\(name): \(enrolled.output)")
                let revoked = try await site.fleetctl(["revoke", name])
                #expect(revoked.status != 0 && revoked.output.contains("reserved_id"), "\(name): \(revoked.output)")
            }
            let status = try await site.fleetctl(["status"])
            #expect(!status.output.contains("monitor"), "\(status.output)")

            // An account provisiond did not create (operator alice is not in its reserved list):
            // enroll, revoke, enroll again with another key. Before the fix the second enrollment
            // deleted alice and created an 'alice' whose password derives from the attacker's key.
            let first = try SimulatedDevice(id: "alice", port: site.localPort, servicePublicKey: site.serviceKey)
            _ = try await site.fleetctl(["enroll", first.uri])
            _ = try await site.fleetctl(["revoke", "alice"])
            let second = try SimulatedDevice(
                id: "alice", port: site.localPort, servicePublicKey: site.serviceKey, derivedCredentials: true)
            _ = try await site.fleetctl(["enroll", second.uri])
            try await eventually("removal decided") {
                let log = site.provisiond.output()
                return log.contains("refused to delete broker account") || log.contains("removal requested")
            }
            try await Task.sleep(for: .milliseconds(300))
            for account in ["alice", "monitor", "hello", "admin", "provisiond"] {
                #expect(await site.logsIn(account), "\(account) lost its account")
            }
            #expect(!site.provisiond.output().contains("removal requested"))
            await #expect(throws: (any Error).self) { try await second.start() }
            await second.stop()
        }
    }
}
