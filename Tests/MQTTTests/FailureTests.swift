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

    /// mosquitto's acl_file does not refuse SUBSCRIBE (it filters on delivery); the dynamic
    /// security plugin does, with SUBACK 0x80 / 0x87.
    @Test(arguments: [MQTTProtocolVersion.v311, .v5])
    func subscriptionDeniedByBrokerThrows(_ version: MQTTProtocolVersion) async throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dynsec = dir.appendingPathComponent("dynsec.json")
        try runTool("mosquitto_ctrl", ["dynsec", "init", dynsec.path, "admin", "admin-password"])
        // Take away the admin role's right to subscribe to everything.
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: dynsec)) as! [String: Any]
        var roles = json["roles"] as! [[String: Any]]
        for index in roles.indices {
            let acls = roles[index]["acls"] as! [[String: Any]]
            roles[index]["acls"] = acls.filter {
                !($0["acltype"] as? String == "subscribePattern" && $0["topic"] as? String == "#")
            }
        }
        json["roles"] = roles
        try JSONSerialization.data(withJSONObject: json).write(to: dynsec)
        let plugin = [
            "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so", "/usr/lib/mosquitto_dynamic_security.so",
        ]
        .first { FileManager.default.fileExists(atPath: $0) }
        let broker = try await Broker.start(
            config:
                "allow_anonymous false\nplugin \(plugin ?? "mosquitto_dynamic_security.so")\nplugin_opt_config_file \(dynsec.path)\n",
            directory: dir.appendingPathComponent("broker"))

        let client = MQTTClient(
            MQTTConfiguration(
                port: broker.port, clientID: uniqueID(), username: "admin", password: "admin-password",
                protocolVersion: version))
        try await client.connect()
        await #expect(throws: MQTTError.subscriptionRefused(filter: "secret/#")) {
            try await client.subscribe("secret/#")
        }
        // The connection is still usable afterwards.
        #expect(try await client.subscribe("$SYS/broker/version") == .atLeastOnce)
        #expect(try await receive(1, from: client).first?.topic == "$SYS/broker/version")
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
