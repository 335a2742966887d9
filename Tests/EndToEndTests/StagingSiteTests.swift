import BrokerHarness
import Crypto
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
        try await StagingSite.with(operators: ["eve"]) { site in
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

            // Operators with an --operator-role are reserved too.
            let aliceDevice = try SimulatedDevice(id: "alice", port: site.localPort, servicePublicKey: site.serviceKey)
            #expect(try await site.fleetctl(["enroll", aliceDevice.uri]).output.contains("reserved_id"))

            // An account provisiond did not create (operator eve is in no list of provisiond's):
            // enroll, revoke, enroll again with another key. Before the fix the second enrollment
            // deleted eve and created an 'eve' whose password derives from the attacker's key.
            let first = try SimulatedDevice(id: "eve", port: site.localPort, servicePublicKey: site.serviceKey)
            _ = try await site.fleetctl(["enroll", first.uri])
            _ = try await site.fleetctl(["revoke", "eve"])
            let second = try SimulatedDevice(
                id: "eve", port: site.localPort, servicePublicKey: site.serviceKey, derivedCredentials: true)
            _ = try await site.fleetctl(["enroll", second.uri])
            try await eventually("removal decided") {
                let log = site.provisiond.output()
                return log.contains("refused to delete broker account") || log.contains("removal requested")
            }
            try await Task.sleep(for: .milliseconds(300))
            for account in ["alice", "eve", "monitor", "hello", "admin", "provisiond"] {
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
            let monitor = try await Recorder(site, "monitor", [topics.serviceStatus])
            try await eventually("retained online status") {
                await monitor.payloads().last?.contains("\"online\"") == true
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
            let seen = await monitor.payloads()
            await monitor.stop()
            #expect(!seen.contains { $0.contains("\"offline\"") }, "status flapped: \(seen)")
            #expect(!site.provisiond.output().contains("reconnected"), "\(site.provisiond.output())")

            // The id is provisiond-<32 hex digits>, fresh per start, in its log for the administrator.
            let id = try site.provisiondClientID()
            #expect(id.hasPrefix("provisiond-") && id.count == "provisiond-".count + 32, "\(id)")
            #expect(id.dropFirst("provisiond-".count).allSatisfy { $0.isHexDigit }, "\(id)")

            // A retained hello, planted through the shared hello account, then a reconnect of
            // provisiond. The client replays its subscriptions; subscribing again too made the
            // broker deliver every retained hello twice per reconnect.
            try await plantHello("planted-1", site)
            try await site.reconnectProvisiond()
            let count = try await site.pendingHellos("planted-1") ?? 0
            #expect(count <= 2, "retained hello handled \(count) times for one connect and one reconnect")
        }
    }

    /// Issue 12, F1: 1,400 hellos with distinct 64-character ids through the shared hello account,
    /// then `fleetctl pending`. One reply listing them all would pass the broker's packet limit
    /// (the broker then drops provisiond, and libmosquitto sends the reply again after every
    /// reconnect); in pages, every recorded id is listed and provisiond stays connected.
    @Test func aFloodOfLongPendingIDsIsListedInPagesAndProvisiondStaysConnected() async throws {
        try await StagingSite.with { site in
            let topics = try TopicTree(prefix: "bootstrap")
            let hello = try await site.client("hello")
            let key = Curve25519.KeyAgreement.PrivateKey().publicKey
            var ids: [String] = []
            for n in 0..<1_400 {
                let head = "flood-\(String(format: "%05d", n))-"
                let id = try DeviceID(head + String(repeating: "f", count: 64 - head.count))
                ids.append(id.rawValue)
                let payload = try MessageCodec.encode(
                    Hello(device: id, publicKey: key, agent: "flood", caps: ["wifi"], boot: 1, nonce: "\(n)"))
                try await hello.publish(topics.hello(id), payload: payload, qos: .atLeastOnce)
            }
            await hello.disconnect()
            hello.close()
            // provisiond keeps about its default pending cap (1,000): two or more pages of the longest rows.
            var listed: [String] = []
            try await eventually(timeout: .seconds(120), "1,000 pending devices listed") {
                let result = try await site.fleetctl(["pending", "--json"])
                guard result.status == 0 else { throw SiteError("fleetctl pending failed: \(result.output)") }
                listed = try JSONDecoder().decode(PendingResult.self, from: Data(result.output.utf8)).pending.map(
                    \.device.rawValue)
                return listed.count >= 1_000
            }
            // (A group commit may pass the cap by less than one group, Topics.md.)
            #expect(
                listed.count >= 1_000 && listed == listed.sorted() && Set(listed).isSubset(of: ids), "\(listed.count)")
            #expect(site.provisiond.isRunning)
            #expect(!site.provisiond.output().contains("reconnected"), "\(site.provisiond.output().suffix(2000))")
            #expect(!site.broker.output().contains("oversize"), "\(site.broker.output().suffix(2000))")
        }
    }

    /// Issue 12, F5: retained hellos and operator requests are ignored and cleared, a retained
    /// status is handled only when it answers an unacknowledged envelope; a reconnect of provisiond
    /// changes nothing.
    @Test func retainedHellosRequestsAndOldStatusesAreIgnored() async throws {
        try await StagingSite.with { site in
            let topics = try TopicTree(prefix: "bootstrap")
            let events = try await Recorder(site, "monitor", [topics.events])
            let replies = try await Recorder(site, "alice", ["bootstrap/v1/ops/reply/alice/+"])
            // A device that applied its profile: its retained status says applied.
            let sim = try SimulatedDevice(
                id: "st-1", port: site.localPort, servicePublicKey: site.serviceKey, derivedCredentials: true)
            #expect(try await site.fleetctl(["enroll", sim.uri, "--group", "lab"]).status == 0)
            try await eventually("device account created") { (try? await sim.start()) != nil }
            _ = try await site.fleetctl(
                [
                    "profile", "add", "office", "--ssid", "Office", "--encryption", "psk2", "--key-stdin",
                    "--service-fingerprint", Fingerprint.of(site.serviceKey),
                ], stdin: Data("staging site passphrase\n".utf8))
            _ = try await site.fleetctl(["assign", "office", "--group", "lab"])
            #expect(try await site.fleetctl(["push", "--group", "lab", "--timeout", "30"]).status == 0)
            // Planted: a retained hello and a retained operator request.
            try await plantHello("planted-2", site)
            let alice = try await site.client("alice")
            let request = try OperatorRequest(
                id: "planted-req", op: .pending, replyTo: "bootstrap/v1/ops/reply/alice/planted-req",
                arguments: NoArguments())
            try await alice.publish(
                "bootstrap/v1/ops/request/alice", payload: try MessageCodec.encode(request), qos: .atLeastOnce,
                retain: true)
            await alice.disconnect()
            alice.close()
            try await eventually("planted request answered") {
                await replies.payloads(on: "bootstrap/v1/ops/reply/alice/planted-req").count == 1
            }

            try await site.reconnectProvisiond()
            try await site.reconnectProvisiond()
            #expect(await replies.payloads(on: "bootstrap/v1/ops/reply/alice/planted-req").count == 1)
            #expect(try await site.pendingHellos("planted-2") == 1)
            let applied = await events.payloads().filter { $0.contains("device.applied") }
            #expect(applied.count == 1, "\(applied)")
            #expect(site.provisiond.output().contains("cleared a retained message"))
            // Nothing planted stays retained on the broker.
            let admin = try await Recorder(
                site, "admin", [topics.hello(DeviceID("planted-2")), "bootstrap/v1/ops/request/alice"])
            try await Task.sleep(for: .milliseconds(500))
            #expect(await admin.payloads().filter { !$0.isEmpty } == [])
            for recorder in [events, replies, admin] { await recorder.stop() }
            await sim.stop()
        }
    }

    /// Issue 12, F6: control characters in a `reply_to` reach neither provisiond's log, nor the
    /// audit table, nor the event stream; the event is still published, escaped.
    @Test func outsideTextIsEscapedInLogsAuditAndEvents() async throws {
        try await StagingSite.with { site in
            let events = try await Recorder(site, "monitor", [TopicTree(prefix: "bootstrap").events])
            let replies = try await Recorder(site, "alice", ["bootstrap/v1/ops/reply/alice/+"])
            let forged = "x\n2026-12-01T00:00:00+0000 critical provisiond: FORGED\u{1b}[31m\u{85}\u{2028}\r\t\\end"
            let request: [String: Any] = [
                "v": 1, "id": "inj1", "op": "status", "reply_to": "bootstrap/v1/ops/reply/alice/inj1/" + forged,
                "args": [String: Any](),
            ]
            let alice = try await site.client("alice")
            try await alice.publish(
                "bootstrap/v1/ops/request/alice", payload: Array(try JSONSerialization.data(withJSONObject: request)),
                qos: .atLeastOnce)
            await alice.disconnect()
            alice.close()
            try await eventually("refusal and event") {
                let replied = await replies.payloads().contains { $0.contains("reply_to_mismatch") }
                let published = await events.payloads()
                return replied && !published.isEmpty
            }
            try await Task.sleep(for: .milliseconds(300))

            let event = try #require(await events.payloads().first)
            let object = try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any]
            #expect(object?["type"] as? String == "ops.rejected", "\(event)")
            let detail = try #require(object?["detail"] as? String, "\(event)")
            #expect(!hasControlCharacter(detail), "\(detail.debugDescription)")
            #expect(detail.contains("\\u{a}2026-12-01") && detail.contains("\\\\end"), "\(detail)")

            let audit = try await run(
                "/usr/bin/sqlite3",
                [site.base.appendingPathComponent("registry.sqlite").path, "SELECT hex(detail) FROM audit"])
            let details = audit.split(separator: "\n").map { hexText(String($0)) }
            #expect(!details.isEmpty && details.allSatisfy { !hasControlCharacter($0) }, "\(details)")

            let log = site.provisiond.output()
            #expect(log.contains("ops.rejected"))
            let lines = log.split(separator: "\n")
            #expect(
                lines.allSatisfy { $0.hasPrefix("20") && !hasControlCharacter(String($0)) }, "\(log.debugDescription)")
            for recorder in [events, replies] { await recorder.stop() }
        }
    }

    /// Issue 12: provisiond and fleetctl speak MQTT v5 (mosquitto logs `p5`; 3.1.1 is `p4`), so a
    /// publish the broker refuses fails its caller with the reason code (Tests/MQTTTests,
    /// PublishTests) instead of being resent after every reconnect.
    @Test func provisiondAndFleetctlConnectWithMQTTv5() async throws {
        try await StagingSite.with { site in
            let status = try await site.fleetctl(["status"])
            #expect(status.status == 0, "\(status.output)")
            let connects = site.broker.output().split(separator: "\n").filter { $0.contains("New client connected") }
            let provisiond = connects.filter { $0.contains(" as provisiond-") }
            let fleetctl = connects.filter { $0.contains(" as fleetctl-alice-") }
            #expect(!provisiond.isEmpty && provisiond.allSatisfy { $0.contains("(p5,") }, "\(connects)")
            #expect(!fleetctl.isEmpty && fleetctl.allSatisfy { $0.contains("(p5,") }, "\(connects)")
        }
    }

    /// `provisiond --log-level` with an unknown level is an error naming the levels, not `info`.
    @Test func unknownLogLevelIsAnError() async throws {
        let process = try ManagedProcess.start(
            try BinaryLocator.path(of: "provisiond"),
            arguments: ["--database", "/nonexistent/db", "--service-key", "/nonexistent/key", "--log-level", "verbose"])
        let status = try await process.waitForExit(timeout: .seconds(30))
        #expect(status != 0)
        #expect(
            process.output().contains("unknown --log-level 'verbose'")
                && process.output().contains("trace, debug, info, notice, warning, error, critical"),
            "\(process.output())")
    }

    /// Publishes a valid hello for `id` retained through the shared hello account.
    private func plantHello(_ id: String, _ site: StagingSite) async throws {
        let hello = try await site.client("hello")
        let device = try SimulatedDevice(id: id, port: site.localPort, servicePublicKey: site.serviceKey)
        try await hello.publish(
            TopicTree(prefix: "bootstrap").hello(DeviceID(id)), payload: try device.helloPayload(),
            qos: .atLeastOnce, retain: true)
        await hello.disconnect()
        hello.close()
        try await eventually("planted hello seen") { try await site.pendingHellos(id) != nil }
    }
}

/// Whether `text` has a C0 or C1 control character, DEL, or a Unicode line/paragraph separator.
func hasControlCharacter(_ text: String) -> Bool {
    text.unicodeScalars.contains {
        $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0.value == 0x2028 || $0.value == 0x2029
    }
}

/// The UTF-8 text whose bytes `hex` spells (sqlite's `hex()`).
func hexText(_ hex: String) -> String {
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), next > index {
        bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0x3F)
        index = next
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Runs `executable` and returns its output; throws when it fails.
func run(_ executable: String, _ arguments: [String]) async throws -> String {
    let process = try ManagedProcess.start(executable, arguments: arguments)
    guard try await process.waitForExit(timeout: .seconds(30)) == 0 else {
        throw SiteError("\(executable) failed: \(process.output())")
    }
    return process.output()
}
