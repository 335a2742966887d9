import BrokerHarness
import Crypto
import FleetCtlCore
import FleetProtocol
import FleetSim
import Foundation
import MQTT
import Testing

/// provisiond and fleetctl binaries against a real broker, with devices simulated in Swift.
@Suite("End to end with simulated devices", .serialized)
struct SimulatedFleetTests {
    @Test func groupPushReachesEnrolledDevicesOnlyAndNeverShowsTheKey() async throws {
        let site = try await Site.start()
        let spy = try await Eavesdropper(port: site.broker.port)
        var devices: [SimulatedDevice] = []
        do {
            let serviceKey = try KeyFile.loadPublicKey(from: site.servicePublicKeyPath)
            let psk = "e2e-secret-\(UInt32.random(in: 0...UInt32.max))"
            devices = try ["sim-a", "sim-b", "sim-c", "sim-late", "sim-stranger"].map {
                try SimulatedDevice(id: $0, port: site.broker.port, servicePublicKey: serviceKey)
            }
            let (a, b, c, late, stranger) = (devices[0], devices[1], devices[2], devices[3], devices[4])

            let manifest = site.directory.appendingPathComponent("manifest.csv")
            try ("uri,group\n" + [a, b, c, late].map { "\($0.uri),lab\n" }.joined()).write(
                to: manifest, atomically: true, encoding: .utf8)
            let enrolled = try await site.fleetctl(["enroll", "--manifest", manifest.path])
            #expect(enrolled.status == 0, "\(enrolled.output)")
            #expect(enrolled.output.contains("enrolled sim-late"))

            for device in [a, b, c, stranger] { try await device.start() }
            try await eventually("stranger pending") {
                try await site.fleetctl(["pending"]).output.contains("sim-stranger")
            }

            let added = try await site.fleetctl(
                [
                    "profile", "add", "office", "--ssid", "Office", "--encryption", "psk2", "--key-stdin",
                    "--service-pubkey", site.servicePublicKeyPath,
                ],
                stdin: Data("\(psk)\n".utf8))
            #expect(added.status == 0, "\(added.output)")
            let assigned = try await site.fleetctl(["assign", "office", "--group", "lab"])
            #expect(assigned.status == 0, "\(assigned.output)")

            // sim-late is offline: the push reports it as timed out and exits non-zero.
            let pushed = try await site.fleetctl(["push", "--group", "lab", "--timeout", "5"])
            #expect(pushed.status != 0)
            #expect(pushed.output.contains("timeout sim-late"), "\(pushed.output)")
            #expect(pushed.output.contains("applied 3/4"), "\(pushed.output)")
            for device in [a, b, c] {
                #expect(await device.appliedProfiles().last?.key == psk)
                #expect(await device.appliedProfiles().last?.ssid == "Office")
            }

            // A device that boots after the push still finds its config.
            try await late.start()
            try await eventually("late device applied") { await late.appliedProfiles().count == 1 }
            #expect(await stranger.appliedProfiles().isEmpty)

            let status = try await site.fleetctl(["status", "--json"])
            let table = try JSONDecoder().decode(StatusResult.self, from: Data(status.output.utf8))
            #expect(table.devices.map(\.state) == [.applied, .applied, .applied, .applied])
            #expect(table.pending == 1)

            let revoked = try await site.fleetctl(["revoke", "sim-c"])
            #expect(revoked.status == 0, "\(revoked.output)")
            try await eventually("sim-c reset") { await c.wasReset() }
            try await eventually("sim-c config cleared") {
                let json = try await site.fleetctl(["status", "--json"]).output
                let rows = try JSONDecoder().decode(StatusResult.self, from: Data(json.utf8)).devices
                return rows.first { $0.device == "sim-c" }?.lastStatus == .reset
            }

            let seen = await spy.messages()
            #expect(seen.count > 20)
            #expect(seen.allSatisfy { !Data($0.payload).contains(Data(psk.utf8)) }, "PSK visible on the broker")
            #expect(seen.contains { $0.topic == "bootstrap/v1/devices/sim-a/config" })
        } catch {
            Issue.record("\(error)\nprovisiond log:\n\(site.provisiond.output())")
        }
        for device in devices { await device.stop() }
        await spy.stop()
        await site.stop()
    }

    @Test func badOperatorInputGetsOneClearLineAndChangesNothing() async throws {
        let site = try await Site.start()
        do {
            let unknown = try await site.fleetctl(["assign", "nope", "--group", "lab"])
            #expect(unknown.status != 0)
            #expect(unknown.output.contains("unknown_profile"), "\(unknown.output)")
            #expect(unknown.output.split(separator: "\n").count == 1)

            let weak = try await site.fleetctl(
                [
                    "profile", "add", "weak", "--ssid", "Office", "--encryption", "psk2", "--key-stdin",
                    "--service-pubkey", site.servicePublicKeyPath,
                ],
                stdin: Data("short\n".utf8))
            #expect(weak.status != 0)
            #expect(weak.output.contains("key"), "\(weak.output)")
            #expect(!weak.output.contains("short"), "the key must not be echoed")

            let badURI = try await site.fleetctl(["enroll", "FB1:I:x;K:abc;X:00;;"])
            #expect(badURI.status != 0)
            #expect(badURI.output.contains("invalid_uri"), "\(badURI.output)")

            let wrongService = try await site.fleetctl(
                [
                    "profile", "add", "p", "--ssid", "S", "--encryption", "psk2", "--key-stdin",
                    "--service-fingerprint", "0000-0000-0000-0000",
                ],
                stdin: Data("long enough key\n".utf8))
            #expect(wrongService.status != 0)
            #expect(wrongService.output.contains("refusing"), "\(wrongService.output)")

            let list = try await site.fleetctl(["profile", "list"])
            #expect(list.status == 0)
            #expect(!list.output.contains("weak"))
            #expect(!list.output.contains(" p "))
        } catch {
            Issue.record("\(error)\nprovisiond log:\n\(site.provisiond.output())")
        }
        await site.stop()
    }

    @Test func provisiondRepublishesUnacknowledgedConfigsAfterTheBrokerLostThem() async throws {
        let site = try await Site.start()
        var device: SimulatedDevice?
        do {
            let serviceKey = try KeyFile.loadPublicKey(from: site.servicePublicKeyPath)
            let late = try SimulatedDevice(id: "sim-offline", port: site.broker.port, servicePublicKey: serviceKey)
            device = late
            #expect(try await site.fleetctl(["enroll", late.uri, "--group", "lab"]).status == 0)
            _ = try await site.fleetctl(
                [
                    "profile", "add", "office", "--ssid", "Office", "--encryption", "psk2", "--key-stdin",
                    "--service-pubkey", site.servicePublicKeyPath,
                ],
                stdin: Data("a long enough key\n".utf8))
            #expect(try await site.fleetctl(["assign", "office", "--group", "lab"]).status == 0)
            #expect(try await site.fleetctl(["push", "--group", "lab", "--timeout", "1"]).status != 0)
            // The broker dies hard and comes back without retained messages (no persistence).
            await site.broker.kill()
            try await site.broker.restart()
            try await site.provisiond.waitForOutput(
                containing: "reconciling unacknowledged configs", timeout: .seconds(60))
            try await late.start()
            try await eventually("device applied after broker restart") { await late.appliedProfiles().count == 1 }
        } catch {
            Issue.record("\(error)\nprovisiond log:\n\(site.provisiond.output())")
        }
        await device?.stop()
        await site.stop()
    }

    @Test func malformedHellosAreRejectedWithoutHarmingTheService() async throws {
        let site = try await Site.start()
        let client = MQTTClient(MQTTConfiguration(host: "127.0.0.1", port: site.broker.port, clientID: "vandal"))
        do {
            try await client.connect()
            let garbage: [(String, [UInt8])] = [
                ("bootstrap/v1/devices/x/hello", Array("not json".utf8)),
                ("bootstrap/v1/devices/x/hello", Array(repeating: UInt8(ascii: "a"), count: 5000)),
                (
                    "bootstrap/v1/devices/x/hello",
                    Array(#"{"v":1,"device":"y","pubkey":"AAAA","agent":"a","caps":[],"boot":0,"nonce":"00"}"#.utf8)
                ),
                (
                    "bootstrap/v1/devices/x/hello",
                    Array(#"{"v":1,"device":"x","pubkey":"AAAA","agent":"a","caps":[],"boot":0,"nonce":"00"}"#.utf8)
                ),
                (
                    "bootstrap/v1/devices/x/status",
                    Array(#"{"v":1,"device":"x","state":"exploded","seq":1,"ts":0}"#.utf8)
                ),
                ("bootstrap/v1/ops/request/operator", Array("{}".utf8)),
                ("bootstrap/v1/ops/request/operator", Array(repeating: UInt8(ascii: "{"), count: 20000)),
            ]
            for (topic, payload) in garbage { try await client.publish(topic, payload: payload) }
            let pending = try await site.fleetctl(["pending", "--json"])
            #expect(pending.status == 0, "\(pending.output)")
            #expect(try JSONDecoder().decode(PendingResult.self, from: Data(pending.output.utf8)).pending.isEmpty)
            #expect(site.provisiond.isRunning)
            #expect(site.provisiond.output().contains("hello rejected"))
        } catch {
            Issue.record("\(error)\nprovisiond log:\n\(site.provisiond.output())")
        }
        await client.disconnect()
        client.close()
        await site.stop()
    }

    @Test func requestOnAlicesTopicWithBobsReplyTopicGetsNoReplyThereAndChangesNothing() async throws {
        let site = try await Site.start()
        let spy = try await Eavesdropper(port: site.broker.port)
        let client = MQTTClient(MQTTConfiguration(host: "127.0.0.1", port: site.broker.port, clientID: "alice-raw"))
        do {
            try await client.connect()
            let device = TestDevice(id: "victim-1")
            let forged = try MessageCodec.encode(
                OperatorRequest(
                    id: "r1", op: .enroll, replyTo: "bootstrap/v1/ops/reply/bob/r1",
                    arguments: EnrollArgs(devices: [EnrollEntry(uri: device.uri, group: nil)])))
            try await client.publish("bootstrap/v1/ops/request/alice", payload: forged, qos: .atLeastOnce)
            // A valid request after it: once its reply is there, the forged one was handled.
            let probe = try MessageCodec.encode(
                OperatorRequest(id: "r2", op: .status, replyTo: "bootstrap/v1/ops/reply/alice/r2"))
            try await client.publish("bootstrap/v1/ops/request/alice", payload: probe, qos: .atLeastOnce)
            try await eventually("reply to the probe") {
                await spy.messages().contains { $0.topic == "bootstrap/v1/ops/reply/alice/r2" }
            }
            let seen = await spy.messages()
            #expect(!seen.contains { $0.topic.hasPrefix("bootstrap/v1/ops/reply/bob/") })
            let refusal = try #require(seen.first { $0.topic == "bootstrap/v1/ops/reply/alice/r1" })
            let reply = try TypedReply<NoArguments>(refusal.payload)
            #expect(reply.error?.code == .replyToMismatch)
            #expect(
                seen.contains {
                    $0.topic == "bootstrap/v1/events"
                        && String(decoding: $0.payload, as: UTF8.self).contains("ops.rejected")
                })
            let status = try await site.fleetctl(["status", "--json"])
            #expect(status.status == 0, "\(status.output)")
            #expect(!status.output.contains("victim-1"))
        } catch {
            Issue.record("\(error)\nprovisiond log:\n\(site.provisiond.output())")
        }
        await client.disconnect()
        client.close()
        await spy.stop()
        await site.stop()
    }

    @Test func profileAddRefusesASubstitutedServiceKeyOrNoPinAndPublishesNothing() async throws {
        let site = try await Site.start()
        let spy = try await Eavesdropper(port: site.broker.port)
        let mallory = MQTTClient(MQTTConfiguration(host: "127.0.0.1", port: site.broker.port, clientID: "mallory"))
        do {
            let real = try KeyFile.loadPublicKey(from: site.servicePublicKeyPath)
            try await mallory.connect()
            // Whoever can write the retained pubkey swaps in a key of their own (with a consistent kid).
            let substitute = Curve25519.KeyAgreement.PrivateKey()
            try await mallory.publish(
                "bootstrap/v1/service/pubkey",
                payload: try MessageCodec.encode(ServicePublicKeyMessage(publicKey: substitute.publicKey)),
                qos: .atLeastOnce, retain: true)
            let add = ["profile", "add", "office", "--ssid", "Office", "--encryption", "psk2", "--key-stdin"]
            for pin in [
                ["--service-pubkey", site.servicePublicKeyPath], ["--service-fingerprint", Fingerprint.of(real)],
            ] {
                let refused = try await site.fleetctl(add + pin, stdin: Data("a long enough key\n".utf8))
                #expect(refused.status != 0)
                #expect(refused.output.contains("refusing to send the key"), "\(refused.output)")
                #expect(refused.output.split(separator: "\n").count == 1, "\(refused.output)")
            }
            let unpinned = try await site.fleetctl(add, stdin: Data("a long enough key\n".utf8))
            #expect(unpinned.status != 0)
            #expect(unpinned.output.contains("--service-fingerprint"), "\(unpinned.output)")
            #expect(unpinned.output.split(separator: "\n").count == 1, "\(unpinned.output)")
            let sentinel = Array("sentinel-\(UUID().uuidString)".utf8)
            try await mallory.publish("bootstrap/v1/sentinel", payload: sentinel, qos: .atLeastOnce)
            try await eventually("sentinel") { await spy.messages().contains { $0.payload == sentinel } }
            #expect(!(await spy.messages()).contains { $0.topic.hasPrefix("bootstrap/v1/ops/request") })
        } catch {
            Issue.record("\(error)\nprovisiond log:\n\(site.provisiond.output())")
        }
        await mallory.disconnect()
        mallory.close()
        await spy.stop()
        await site.stop()
    }

    @Test func sigtermPublishesTheOfflineServiceStatus() async throws {
        let site = try await Site.start()
        let watcher = MQTTClient(MQTTConfiguration(host: "127.0.0.1", port: site.broker.port, clientID: "watcher"))
        do {
            _ = await site.provisiond.terminate()
            #expect(site.provisiond.output().contains("provisiond stopped"))
            try await watcher.connect()
            let messages = watcher.messages
            _ = try await watcher.subscribe("bootstrap/v1/service/status")
            var iterator = messages.makeAsyncIterator()
            let retained = await iterator.next()
            #expect(
                retained.map { String(decoding: $0.payload, as: UTF8.self).contains(#""state":"offline""#) } == true)
        } catch {
            Issue.record("\(error)")
        }
        await watcher.disconnect()
        watcher.close()
        await site.stop()
    }
}
