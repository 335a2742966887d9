import BrokerHarness
import FleetProtocol
import FleetSim
import Foundation
import MQTT
import Testing

/// Issue 12, F7 and the TLS listener: on the shipped staging site, provisiond's operator roles decide
/// what each operator may do, and fleetctl reaches the broker over TLS verified against the site CA.
@Suite("Operator roles and TLS on a staging-site broker", .serialized)
struct OperatorAccessTests {
    /// F7: every operator could enroll a device whose key it holds, assign, push and open the Wi-Fi
    /// key. Now only an admin may assign and push, a read-only operator may not even enroll, and the
    /// broker keeps each operator on its own request topic, so no one can borrow another's role.
    @Test func rolesLimitWhatEachOperatorMayDo() async throws {
        try await StagingSite.with(
            provisiondArguments: ["--operator-role", "alice=admin", "--operator-role", "ivan=installer"],
            operators: ["ivan", "rita"]
        ) { site in
            let device = try SimulatedDevice(id: "f7-device", port: site.localPort, servicePublicKey: site.serviceKey)
            let pin = Fingerprint.of(site.serviceKey)

            // rita is not named: read-only. She reads, and is refused every change with `forbidden`.
            let ritaStatus = try await site.fleetctl(["status"], as: "rita")
            #expect(
                ritaStatus.status == 0 && ritaStatus.output.contains("your role: read-only"), "\(ritaStatus.output)")
            for arguments in [["enroll", device.uri], ["pending", "purge"], ["push", "--device", "f7-device"]] {
                let refused = try await site.fleetctl(arguments, as: "rita")
                #expect(refused.status != 0, "\(arguments): \(refused.output)")
                #expect(refused.output.contains("forbidden: operator 'rita' has role read-only"), "\(refused.output)")
            }

            // ivan installs: enroll works, profiles, assign and push are refused.
            #expect(try await site.fleetctl(["status"], as: "ivan").output.contains("your role: installer"))
            let enrolled = try await site.fleetctl(["enroll", device.uri, "--group", "lab"], as: "ivan")
            #expect(enrolled.status == 0, "\(enrolled.output)")
            let sealed = try await site.fleetctl(
                [
                    "profile", "add", "office", "--ssid", "Office", "--encryption", "psk2", "--key-stdin",
                    "--service-fingerprint", pin,
                ],
                stdin: Data("installer passphrase\n".utf8), as: "ivan")
            #expect(sealed.status != 0 && sealed.output.contains("forbidden"), "\(sealed.output)")

            // alice (admin) owns the profiles; ivan still may not assign or push it to his device.
            let added = try await site.fleetctl(
                [
                    "profile", "add", "office", "--ssid", "Office", "--encryption", "psk2", "--key-stdin",
                    "--service-fingerprint", pin,
                ],
                stdin: Data("admin passphrase\n".utf8))
            #expect(added.status == 0, "\(added.output)")
            for arguments in [["assign", "office", "--device", "f7-device"], ["push", "--device", "f7-device"]] {
                let refused = try await site.fleetctl(arguments, as: "ivan")
                #expect(refused.status != 0 && refused.output.contains("needs role admin"), "\(refused.output)")
            }
            #expect(try await site.fleetctl(["status"]).output.contains("your role: admin"))

            // The role is tied to the broker account: ivan cannot publish on alice's request topic.
            let ivan = try await site.client("ivan", version: .v5)
            let borrowed = try MessageCodec.encode(
                OperatorRequest(
                    id: "borrow1", op: .push, replyTo: "bootstrap/v1/ops/reply/alice/borrow1",
                    arguments: PushArgs(devices: ["f7-device"], group: nil)))
            await #expect(throws: MQTTError.self) {
                try await ivan.publish("bootstrap/v1/ops/request/alice", payload: borrowed, qos: .atLeastOnce)
            }
            ivan.close()
            #expect(!site.provisiond.output().contains("config.sealed"), "\(site.provisiond.output())")
        }
    }

    /// Pending devices from the hello account: an installer lists, rejects and purges them with
    /// fleetctl, and provisiond forgets the rest after `--pending-max-age`.
    @Test func installersRejectAndPurgePendingDevicesAndOldOnesAgeOut() async throws {
        try await StagingSite.with(
            // Long enough for the reject and purge steps on a loaded machine, short enough to wait for.
            provisiondArguments: ["--operator-role", "alice=installer", "--pending-max-age", "30"]
        ) { site in
            let hello = try await site.client("hello", version: .v5)
            let topics = try TopicTree(prefix: "bootstrap")
            func sayHello(_ names: [String]) async throws {
                for name in names {
                    let device = try SimulatedDevice(id: name, port: site.localPort, servicePublicKey: site.serviceKey)
                    try await hello.publish(
                        topics.hello(DeviceID(name)), payload: try device.helloPayload(), qos: .atLeastOnce)
                }
            }
            try await sayHello(["p-1", "p-2", "p-3"])
            try await eventually("three pending") { try await site.pendingHellos("p-3") != nil }
            let rejected = try await site.fleetctl(["pending", "reject", "p-1"])
            #expect(rejected.status == 0 && rejected.output.contains("rejected p-1"), "\(rejected.output)")
            #expect(try await site.pendingHellos("p-1") == nil)
            let again = try await site.fleetctl(["pending", "reject", "p-1"])
            #expect(again.status != 0 && again.output.contains("not_pending"), "\(again.output)")
            let purged = try await site.fleetctl(["pending", "purge"])
            #expect(purged.output.contains("purged 2 pending device(s)"), "\(purged.output)")

            // Past the age limit without a hello: forgotten by the sweep, not listed meanwhile.
            try await sayHello(["p-4"])
            try await eventually("p-4 pending") { try await site.pendingHellos("p-4") != nil }
            try await eventually(timeout: .seconds(180), "p-4 no longer listed") {
                try await site.pendingHellos("p-4") == nil
            }
            try await eventually(timeout: .seconds(120), "p-4 deleted by the sweep") {
                site.provisiond.output().contains("forgot pending devices past the age limit")
            }
            let status = try await site.fleetctl(["status"])
            #expect(status.output.contains("pending limits: 1000 devices, forgotten 30 s"), "\(status.output)")
            #expect(!status.output.contains("pending device(s): see"), "\(status.output)")
            hello.close()
        }
    }

    /// fleetctl connects to the TLS listener with `--ca-file`, checking the certificate and host
    /// name; without the CA, or with another CA, it does not connect.
    @Test func fleetctlUsesTheTLSListenerWithTheSiteCA() async throws {
        try await StagingSite.with { site in
            let status = try await site.fleetctl(["status"], tls: true)
            #expect(status.status == 0, "\(status.output)")
            #expect(status.output.contains("your role: admin"), "\(status.output)")

            // The TLS listener does not speak plain MQTT.
            let plain = try await site.fleetctl(
                ["status"], listener: ["--host", "localhost", "--port", String(site.tlsPort)])
            #expect(plain.status != 0, "\(plain.output)")

            // Another CA: the broker's certificate does not verify.
            let other = site.base.appendingPathComponent("other-ca.crt").path
            let key = site.base.appendingPathComponent("other-ca.key").path
            _ = try await run(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=other", "-keyout", key, "-out", other,
                ])
            let wrongCA = try await site.fleetctl(
                ["status"], listener: ["--host", "localhost", "--port", String(site.tlsPort), "--ca-file", other])
            #expect(wrongCA.status != 0 && wrongCA.output.contains("cannot connect"), "\(wrongCA.output)")
            let missing = try await site.fleetctl(["status", "--ca-file", "/nonexistent/ca.crt"])
            #expect(missing.status != 0 && missing.output.contains("cannot read --ca-file"), "\(missing.output)")
        }
    }
}
