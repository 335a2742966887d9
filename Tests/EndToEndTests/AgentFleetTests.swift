import BrokerHarness
import FleetCtlCore
import FleetProtocol
import FleetSim
import Foundation
import MQTT
import Testing

/// The whole product: real broker, real provisiond and fleetctl binaries, real omega-agent binaries
/// with the uci/wifi/ubus stand-ins.
@Suite("End to end with the real agent", .serialized)
struct AgentFleetTests {
    @Test func manifestEnrollAndGroupPushProvisionRealAgents() async throws {
        let site = try await Site.start()
        let spy = try await Eavesdropper(port: site.broker.port)
        let psk = "agent-e2e-\(UInt32.random(in: 0...UInt32.max))"
        var agents: [RealAgent] = []
        do {
            for id in ["omega-1", "omega-2", "omega-3", "omega-late", "omega-stranger"] {
                agents.append(try await RealAgent(id: id, site: site, accessPoint: ("Office", psk)))
            }
            let group = Array(agents[0..<3])
            let (late, stranger) = (agents[3], agents[4])

            let manifest = site.directory.appendingPathComponent("manifest.csv")
            try ("uri,group\n" + group.map { "\($0.uri),warehouse\n" }.joined() + "\(late.uri),latecomers\n")
                .write(to: manifest, atomically: true, encoding: .utf8)
            let enrolled = try await site.fleetctl(["enroll", "--manifest", manifest.path])
            #expect(enrolled.status == 0, "\(enrolled.output)")

            for agent in group + [stranger] { try agent.start() }
            try await eventually("stranger pending") {
                try await site.fleetctl(["pending"]).output.contains("omega-stranger")
            }

            let keyFile = site.directory.appendingPathComponent("office.key")
            try Data("\(psk)\n".utf8).write(to: keyFile)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile.path)
            let added = try await site.fleetctl(
                [
                    "profile", "add", "office", "--ssid", "Office", "--encryption", "psk2", "--key-file", keyFile.path,
                    "--service-pubkey", site.servicePublicKeyPath,
                ])
            #expect(added.status == 0, "\(added.output)")
            #expect(try await site.fleetctl(["assign", "office", "--group", "warehouse"]).status == 0)
            #expect(try await site.fleetctl(["assign", "office", "--group", "latecomers"]).status == 0)

            let pushed = try await site.fleetctl(["push", "--group", "warehouse", "--timeout", "90"])
            #expect(pushed.status == 0, "\(pushed.output)\n\(group.map { $0.log() }.joined(separator: "\n"))")
            #expect(pushed.output.contains("applied 3/3"))
            for agent in group {
                #expect(agent.wireless().contains("option ssid 'Office'"), "\(agent.id): \(agent.wireless())")
                #expect(agent.wireless().contains("option key '\(psk)'"))
            }
            #expect(!stranger.wireless().contains("Office"))

            // Pushed while the device is off; it boots later and finds the retained config.
            let offline = try await site.fleetctl(["push", "--group", "latecomers", "--timeout", "2"])
            #expect(offline.status != 0)
            #expect(offline.output.contains("timeout omega-late"), "\(offline.output)")
            try late.start()
            try await eventually(timeout: .seconds(60), "late agent applied") {
                late.wireless().contains("option ssid 'Office'")
            }

            // Revoke: the agent drops the premises settings and returns to the provisioning network.
            let revoked = try await site.fleetctl(["revoke", "omega-2"])
            #expect(revoked.status == 0, "\(revoked.output)")
            try await eventually(timeout: .seconds(60), "omega-2 reset") {
                !group[1].wireless().contains("Office") && group[1].wireless().contains("FleetProvisioning")
            }
            try await eventually("omega-2 reported reset") {
                let json = try await site.fleetctl(["status", "--json"]).output
                let rows = try JSONDecoder().decode(StatusResult.self, from: Data(json.utf8)).devices
                return rows.first { $0.device == "omega-2" }?.lastStatus == .reset
            }
            #expect(!stranger.wireless().contains("Office"))

            let seen = await spy.messages()
            #expect(seen.contains { $0.topic == "bootstrap/v1/devices/omega-1/status" })
            #expect(seen.allSatisfy { !Data($0.payload).contains(Data(psk.utf8)) }, "PSK visible on the broker")
        } catch {
            Issue.record(
                "\(error)\nprovisiond:\n\(site.provisiond.output())\nagents:\n\(agents.map { $0.log() }.joined(separator: "\n"))"
            )
        }
        for agent in agents { await agent.stop() }
        await spy.stop()
        await site.stop()
    }
}
