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

    /// Issue 12, F4: another account connecting with provisiond's client id must not take its
    /// session or flip its retained status; a reconnect subscribes once, so a retained message is
    /// delivered once per connection.
    @Test func noOtherAccountCanTakeProvisiondsSession() async throws {
        try await StagingSite.with { site in
            let topics = try TopicTree(prefix: "bootstrap")
            let monitor = try await site.client("monitor")
            defer { monitor.close() }
            let statuses = MessageStore()
            let messages = monitor.messages
            let reader = Task {
                for await message in messages { await statuses.append(message) }
            }
            defer { reader.cancel() }
            _ = try await monitor.subscribe(topics.serviceStatus)
            try await eventually("retained online status") {
                await statuses.messages.last.map { String(decoding: $0.payload, as: UTF8.self) }?
                    .contains("\"online\"") == true
            }
            // The id provisiond used before: every account may try it.
            for account in ["hello", "alice", "monitor"] {
                if let taker = try? await site.client(account, clientID: "provisiond") {
                    try await Task.sleep(for: .milliseconds(200))
                    await taker.disconnect()
                    taker.close()
                }
            }
            try await Task.sleep(for: .seconds(1))
            let seen = await statuses.messages.map { String(decoding: $0.payload, as: UTF8.self) }
            #expect(!seen.contains { $0.contains("\"offline\"") }, "status flapped: \(seen)")
            #expect(!site.provisiond.output().contains("reconnected"), "\(site.provisiond.output())")

            // The id is provisiond-<32 hex digits>, fresh per start, in its log for the administrator.
            let log = site.provisiond.output()
            let id = try #require(
                log.split(separator: "\n").first { $0.contains("provisiond online") }?
                    .split(separator: " ").first { $0.hasPrefix("client=provisiond-") }?.dropFirst("client=".count))
            #expect(id.count == "provisiond-".count + 32, "\(id)")
            let random = id.dropFirst("provisiond-".count)
            #expect(random.allSatisfy { $0.isHexDigit }, "\(id)")

            // A retained hello, planted through the shared hello account, then a reconnect of
            // provisiond (an administrator who knows the id takes it over once). The client
            // replays its subscriptions; subscribing again too made the broker deliver every
            // retained hello twice per reconnect.
            let hello = try await site.client("hello")
            let device = try SimulatedDevice(id: "planted-1", port: site.localPort, servicePublicKey: site.serviceKey)
            try await hello.publish(
                topics.hello(DeviceID("planted-1")), payload: try device.helloPayload(), qos: .atLeastOnce,
                retain: true)
            await hello.disconnect()
            hello.close()
            try await eventually("planted hello seen") { try await site.pendingHellos("planted-1") != nil }
            let taker = try await site.client("alice", clientID: String(id))
            try await eventually("provisiond reconnected") { site.provisiond.output().contains("reconnected") }
            taker.close()
            try await Task.sleep(for: .seconds(1))
            let count = try await site.pendingHellos("planted-1") ?? 0
            #expect(count <= 2, "retained hello handled \(count) times for one connect and one reconnect")
        }
    }
}
