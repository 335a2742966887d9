import BrokerHarness
import Crypto
import FleetProtocol
import FleetSim
import Foundation
import MQTT
import Testing

/// Issue 12: a flood through the shared hello account on the shipped staging site. Slower than the
/// other end-to-end tests (about a minute on a loaded 2-core machine), so it has its own suite.
@Suite("Hello flood on a staging-site broker", .serialized)
struct FloodTests {
    static let hellos = 10_000
    static let cap = 2_000

    /// 10,000 hellos with random ids (every 50th over the hello limit, every 100th retained, a few
    /// over the broker's packet limit): provisiond keeps at most `--pending-cap` of them, counts the
    /// rest, answers an operator during the flood, stays within a bounded RSS, and still stops on
    /// SIGTERM. On the old code the pending table and every reply grew with the flood, and
    /// `bufferingNewest(1024)` dropped hellos and operator requests alike.
    @Test func floodOfRandomHellosIsBoundedAndOperatorsAreStillServed() async throws {
        try await StagingSite.with(provisiondArguments: ["--pending-cap", String(Self.cap)]) { site in
            let topics = try TopicTree(prefix: "bootstrap")
            let rssBefore = ProcessStats.rss(pid: site.provisiond.pid) ?? 0
            let flooder = try await site.client("hello", version: .v5)
            defer { flooder.close() }

            var recordable = 0
            var refusedByBroker = 0
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<Self.hellos {
                    if index >= 500, try await group.next() == false { refusedByBroker += 1 }
                    var (id, payload) = try randomHello(index)
                    var retain = false
                    if index % 50 == 7 {
                        // Over Topics.md's hello limit: provisiond refuses it before parsing.
                        payload += Array(repeating: UInt8(ascii: " "), count: 1200)
                    } else if index % 2500 == 13 {
                        // Over the broker's packet limit: refused before it is sent (MQTT v5).
                        payload += Array(repeating: UInt8(ascii: " "), count: 300_000)
                    } else {
                        // Retained ones arrive live (the broker clears the flag for subscribers that
                        // are there), so they are recorded too, and cleared after a reconnect.
                        retain = index % 100 == 3
                        recordable += 1
                    }
                    let topic = topics.hello(id)
                    group.addTask { [payload, retain] in
                        do {
                            try await flooder.publish(topic, payload: payload, qos: .atLeastOnce, retain: retain)
                            return true
                        } catch MQTTError.publishRejected {
                            return false
                        }
                    }
                }
                for try await accepted in group where !accepted { refusedByBroker += 1 }
            }
            let published = ContinuousClock.now - started

            // Asked while provisiond still works through the queued flood.
            let asked = ContinuousClock.now
            let status = try await site.fleetctl(["status", "--json"])
            let answeredAfter = ContinuousClock.now - asked
            #expect(status.status == 0, "\(status.output)")
            #expect(answeredAfter < .seconds(120), "operator waited \(answeredAfter)")

            // Everything is handled: the cap holds and every other recordable hello is counted.
            try await eventually(timeout: .seconds(300), "flood handled") {
                let result = try await statusResult(site)
                return result.pending + Int(result.pendingRefused ?? 0) >= recordable
            }
            let result = try await statusResult(site)
            // Exactly the cap when hellos are decided one by one; a group commit (issue 11) decides a
            // burst on the count loaded at its start, so it may pass the cap by less than one group.
            #expect((Self.cap..<Self.cap + 512).contains(result.pending), "\(result.pending) pending")
            #expect(result.pending + Int(result.pendingRefused ?? 0) == recordable)
            #expect(refusedByBroker == (0..<Self.hellos).count { $0 % 50 != 7 && $0 % 2500 == 13 })
            let rssAfter = ProcessStats.rss(pid: site.provisiond.pid) ?? 0
            let peak = ProcessStats.peakRSS(pid: site.provisiond.pid) ?? 0
            print(
                "flood: \(Self.hellos) hellos published in \(published), operator answered after \(answeredAfter); "
                    + "provisiond RSS \(rssBefore >> 20) MiB before, \(rssAfter >> 20) MiB after, peak \(peak >> 20) MiB"
            )
            // Bounded: the pending cap, not the flood, decides what provisiond holds.
            #expect(rssAfter < rssBefore + 64 << 20, "RSS grew from \(rssBefore >> 20) to \(rssAfter >> 20) MiB")

            // The retained ones stay on the broker until provisiond subscribes again: then they are
            // ignored and cleared. And provisiond still stops at once.
            try await site.reconnectProvisiond()
            try await eventually("retained hellos cleared") {
                site.provisiond.output().components(separatedBy: "ignored and cleared a retained message").count > 100
            }
            #expect(await site.provisiond.terminate(grace: .seconds(15)) == 0)
        }
    }

    private func statusResult(_ site: StagingSite) async throws -> StatusResult {
        let status = try await site.fleetctl(["status", "--json"])
        guard status.status == 0, let start = status.output.firstIndex(of: "{") else {
            throw SiteError("fleetctl status failed: \(status.output)")
        }
        return try JSONDecoder().decode(StatusResult.self, from: Data(status.output[start...].utf8))
    }
}
