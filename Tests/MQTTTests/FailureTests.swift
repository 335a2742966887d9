import BrokerHarness
import Foundation
import MQTT
import Testing

@Suite struct FailureTests {
    @Test func connectToClosedPortIsUnreachable() async throws {
        let port = try FreePort.tcp()
        let client = MQTTClient(MQTTConfiguration(port: port, clientID: uniqueID()))
        do {
            try await client.connect()
            Issue.record("connect to a closed port succeeded")
        } catch let error as MQTTError {
            guard case .unreachable(let detail) = error else {
                Issue.record("expected unreachable, got \(error)")
                return
            }
            #expect(detail.contains("\(port)"))
        }
        #expect(client.state == .disconnected)
        client.close()
        #expect(client.state == .closed)
    }

    @Test(arguments: [MQTTProtocolVersion.v311, .v5])
    func wrongPasswordIsBadCredentials(_ version: MQTTProtocolVersion) async throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let passwords = dir.appendingPathComponent("passwd")
        try runTool("mosquitto_passwd", ["-b", "-c", passwords.path, "device1", "right-password"])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: passwords.path)
        let broker = try await Broker.start(
            config: "allow_anonymous false\npassword_file \(passwords.path)\n", directory: dir)

        let wrong = MQTTClient(
            MQTTConfiguration(
                port: broker.port, clientID: uniqueID(), username: "device1", password: "wrong",
                protocolVersion: version))
        await #expect(throws: MQTTError.badCredentials) { try await wrong.connect() }
        #expect(wrong.state == .disconnected)  // no reconnect loop after a refused first connect
        wrong.close()

        let anonymous = MQTTClient(MQTTConfiguration(port: broker.port, clientID: uniqueID(), protocolVersion: version))
        await #expect(throws: MQTTError.notAuthorized) { try await anonymous.connect() }
        anonymous.close()

        let right = MQTTClient(
            MQTTConfiguration(
                port: broker.port, clientID: uniqueID(), username: "device1", password: "right-password",
                protocolVersion: version))
        try await right.connect()
        #expect(right.state == .connected)
        right.close()
        await broker.stop()
    }

    static func aclBroker() async throws -> (Broker, URL) {
        let dir = try scratchDirectory()
        let acl = dir.appendingPathComponent("acl")
        try "topic readwrite open/#\ntopic read readonly/#\n".write(to: acl, atomically: true, encoding: .utf8)
        let broker = try await Broker.start(config: "acl_file \(acl.path)\n", directory: dir)
        return (broker, dir)
    }

    @Test(arguments: [MQTTProtocolVersion.v311, .v5])
    func subscriptionDeniedByACLThrows(_ version: MQTTProtocolVersion) async throws {
        let (broker, dir) = try await Self.aclBroker()
        defer { try? FileManager.default.removeItem(at: dir) }
        let client = try await connectedClient(broker, version: version)
        await #expect(throws: MQTTError.subscriptionRefused(filter: "secret/#")) {
            try await client.subscribe("secret/#")
        }
        // The connection is still usable afterwards.
        #expect(try await client.subscribe("open/x") == .atLeastOnce)
        try await client.publish("open/x", string: "ok")
        #expect(try await receive(1, from: client).first?.string == "ok")
        client.close()
        await broker.stop()
    }

    @Test func mqtt5PublishDeniedByACLIsRejected() async throws {
        let (broker, dir) = try await Self.aclBroker()
        defer { try? FileManager.default.removeItem(at: dir) }
        let client = try await connectedClient(broker, version: .v5)
        await #expect(throws: MQTTError.publishRejected(reasonCode: 0x87)) {
            try await client.publish("readonly/x", string: "nope", qos: .atLeastOnce)
        }
        try await client.publish("open/y", string: "fine", qos: .atLeastOnce)
        client.close()
        await broker.stop()
    }
}
