import BrokerHarness
import FleetProtocol
import FleetSim
import Foundation
import MQTT
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 12, F1's tail: SIGTERM stops provisiond within seconds whatever the broker does, and a
/// publish the broker refuses fails once instead of being sent again after every reconnect. On the
/// shipped staging-site config, with the real provisiond.
@Suite("provisiond stops on SIGTERM and gives up refused publishes", .serialized)
struct ShutdownTests {
    /// Generous: the machine is loaded; what matters is seconds, not the 5 s of a hung one or never.
    static let bound: Duration = .seconds(15)

    /// SIGTERM, then the exit code if provisiond exits by itself within ``bound`` (nil: it had to be killed).
    private func stopsOnSIGTERM(_ site: StagingSite) async -> Int32? {
        let code = await site.provisiond.terminate(grace: Self.bound)
        return code == 128 + SIGKILL ? nil : code
    }

    /// Sends dynamic-security commands as the site's admin and waits for the plugin's answer.
    private func asAdmin(_ site: StagingSite, _ commands: String) async throws {
        let admin = try await site.client("admin", version: .v5)
        let responses = admin.messages
        _ = try await admin.subscribe("$CONTROL/dynamic-security/v1/response", qos: .atLeastOnce)
        try await admin.publish(
            "$CONTROL/dynamic-security/v1", payload: Array(#"{"commands":[\#(commands)]}"#.utf8), qos: .atLeastOnce)
        let answer = await withTaskGroup(of: MQTTMessage?.self) { group in
            group.addTask {
                for await message in responses { return message }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        admin.close()
        let text = answer.map { String(decoding: $0.payload, as: UTF8.self) } ?? ""
        guard !text.contains("\"error\"") else { throw SiteError("dynsec refused \(commands): \(text)") }
    }

    private func reconnects(_ site: StagingSite) -> Int {
        site.provisiond.output().components(separatedBy: "reconnected to the broker").count - 1
    }

    @Test func sigtermWhileConnected() async throws {
        try await StagingSite.with { site in
            #expect(await stopsOnSIGTERM(site) == 0, "\(site.provisiond.output())")
            #expect(site.provisiond.output().contains("provisiond stopped"))
        }
    }

    /// In the middle of a flood of hellos (thousands still queued at the broker for provisiond).
    @Test func sigtermDuringAHelloFlood() async throws {
        try await StagingSite.with { site in
            let flooder = try await site.client("hello", version: .v5)
            defer { flooder.close() }
            let topics = try TopicTree(prefix: "bootstrap")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<3000 {
                    if index >= 500 { try await group.next() }
                    let (id, payload) = try randomHello(index)
                    group.addTask { try await flooder.publish(topics.hello(id), payload: payload, qos: .atLeastOnce) }
                }
                try await group.waitForAll()
            }
            #expect(await stopsOnSIGTERM(site) == 0, "\(site.provisiond.output().suffix(2000))")
        }
    }

    /// The broker is gone: provisiond keeps reconnecting until SIGTERM.
    @Test func sigtermWhileTheBrokerIsGone() async throws {
        try await StagingSite.with { site in
            _ = await site.broker.terminate()
            try await Task.sleep(for: .seconds(2))
            #expect(await stopsOnSIGTERM(site) == 0, "\(site.provisiond.output())")
        }
    }

    /// The broker accepts TCP but never answers (stopped with SIGSTOP): provisiond's offline status
    /// and disconnect cannot complete, and it still stops.
    @Test func sigtermWhileTheBrokerHangs() async throws {
        try await StagingSite.with { site in
            let pid = site.broker.pid
            kill(pid, SIGSTOP)
            defer { kill(pid, SIGCONT) }
            try await Task.sleep(for: .seconds(1))
            #expect(await stopsOnSIGTERM(site) == 0, "\(site.provisiond.output())")
        }
    }

    /// The broker refuses provisiond's account (an administrator disabled it): every reconnect is
    /// refused at CONNECT, and SIGTERM still stops it.
    @Test func sigtermWhileTheBrokerRefusesTheAccount() async throws {
        try await StagingSite.with { site in
            try await asAdmin(site, #"{"command":"disableClient","username":"provisiond"}"#)
            try await Task.sleep(for: .seconds(3))
            #expect(await stopsOnSIGTERM(site) == 0, "\(site.provisiond.output())")
        }
    }

    /// A reply the broker refuses (an administrator denied provisiond the reply topics): the publish
    /// fails once (MQTT v5 PUBACK 0x87), provisiond stays connected and serves the next request once
    /// the rule is gone, and SIGTERM stops it.
    @Test func refusedReplyFailsOnceAndSIGTERMStillWorks() async throws {
        try await StagingSite.with { site in
            // The plugin disconnects the clients of a changed role; provisiond comes back at once.
            try await asAdmin(
                site,
                #"{"command":"addRoleACL","rolename":"provisiond","acltype":"publishClientSend","topic":"bootstrap/v1/ops/reply/#","allow":false,"priority":100}"#
            )
            try await eventually("provisiond back after the role change") { reconnects(site) == 1 }
            let refused = try await site.fleetctl(["status"])
            #expect(refused.status != 0, "\(refused.output)")
            try await eventually("refused reply logged") { site.provisiond.output().contains("publish failed") }
            try await Task.sleep(for: .seconds(3))
            let log = site.provisiond.output()
            #expect(log.components(separatedBy: "publish failed").count == 2, "retried: \(log)")
            #expect(reconnects(site) == 1, "the refused publish cost a connection: \(log)")

            try await asAdmin(
                site,
                #"{"command":"removeRoleACL","rolename":"provisiond","acltype":"publishClientSend","topic":"bootstrap/v1/ops/reply/#"}"#
            )
            try await eventually("provisiond back after the role change") { reconnects(site) == 2 }
            let served = try await site.fleetctl(["status"])
            #expect(served.status == 0, "\(served.output)")
            #expect(await stopsOnSIGTERM(site) == 0, "\(site.provisiond.output())")
        }
    }
}
