import BrokerHarness
import Foundation
import MQTT
import Testing

@Suite struct WillAndReconnectTests {
    @Test func willIsPublishedWhenClientDiesWithoutDisconnect() async throws {
        let broker = try await Broker.start()
        let watcher = try await connectedClient(broker)
        try await watcher.subscribe("will/#")

        let sub = try ManagedProcess.start(
            "mosquitto_sub",
            arguments: [
                "-h", broker.host, "-p", "\(broker.port)", "-i", "dying-device", "-t", "ignored/topic",
                "--will-topic", "will/dying-device", "--will-payload", "offline", "--will-qos", "1",
            ])
        try await withTimeout(.seconds(10), "mosquitto_sub to connect") {
            while !broker.logText().contains("as dying-device") { try await Task.sleep(for: .milliseconds(20)) }
        }
        await sub.kill()
        let received = try await receive(1, from: watcher)
        #expect(received.first?.topic == "will/dying-device")
        #expect(received.first?.string == "offline")
        watcher.close()
        await broker.stop()
    }

    @Test func cleanDisconnectSuppressesWillAndCloseTriggersIt() async throws {
        let broker = try await Broker.start()
        let watcher = try await connectedClient(broker)
        try await watcher.subscribe("status/#")
        let will = MQTTWill(topic: "status/dev", payload: Array("offline".utf8), qos: .atLeastOnce, retain: false)

        let polite = try await connectedClient(broker, will: will)
        await polite.disconnect()
        polite.close()
        let marker = try await connectedClient(broker)
        try await marker.publish("status/marker", string: "after disconnect")
        #expect(try await receive(1, from: watcher).first?.topic == "status/marker")

        let abrupt = try await connectedClient(broker, will: will)
        abrupt.close()  // closes the socket without DISCONNECT
        let received = try await receive(1, from: watcher)
        #expect(received.first?.topic == "status/dev")
        #expect(received.first?.string == "offline")
        watcher.close()
        marker.close()
        await broker.stop()
    }

    @Test func reconnectsAndResubscribesAfterBrokerRestart() async throws {
        let broker = try await Broker.start(persistence: true)
        let fast = MQTTReconnectPolicy(enabled: true, minDelay: .milliseconds(50), maxDelay: .milliseconds(500))
        // Clean session: the broker forgets the subscription, so only our resubscription brings it back.
        let client = try await connectedClient(broker, reconnect: fast)
        try await client.subscribe("restart/t")
        try await client.publish("restart/kept", string: "retained before restart", retain: true)

        let states = client.stateUpdates()
        await broker.stop()
        try await broker.restart()
        try await withTimeout(.seconds(20), "reconnecting then connected") {
            var sawReconnecting = false
            for await state in states {
                if state == .reconnecting { sawReconnecting = true }
                if sawReconnecting && state == .connected { return }
            }
        }

        let publisher = try await connectedClient(broker)
        // Resubscription is asynchronous (SUBACK after CONNACK): publish until it lands.
        let received = try await withTimeout(.seconds(20), "message after restart") {
            try await withThrowingTaskGroup(of: MQTTMessage?.self) { group in
                group.addTask {
                    for await message in client.messages { return message }
                    return nil
                }
                group.addTask {
                    while true {
                        try await publisher.publish("restart/t", string: "after restart")
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            }
        }
        #expect(received?.string == "after restart")

        // Persistence kept the retained message across the restart.
        let late = try await connectedClient(broker)
        try await late.subscribe("restart/kept")
        #expect(try await receive(1, from: late).first?.string == "retained before restart")

        client.close()
        publisher.close()
        late.close()
        await broker.stop()
    }

    @Test func stateUpdatesReportLifecycle() async throws {
        let broker = try await Broker.start()
        let client = MQTTClient(MQTTConfiguration(port: broker.port, clientID: uniqueID()))
        let states = client.stateUpdates()
        try await client.connect()
        await client.disconnect()
        client.close()
        var seen: [MQTTConnectionState] = []
        for await state in states { seen.append(state) }
        #expect(seen == [.disconnected, .connecting, .connected, .disconnected, .closed])
        await broker.stop()
    }

    @Test func reconnectDelayGrowsExponentiallyUpToMax() {
        let policy = MQTTReconnectPolicy(enabled: true, minDelay: .milliseconds(100), maxDelay: .seconds(2))
        #expect(policy.delay(forAttempt: 0) == .milliseconds(100))
        #expect(policy.delay(forAttempt: 1) == .milliseconds(200))
        #expect(policy.delay(forAttempt: 3) == .milliseconds(800))
        #expect(policy.delay(forAttempt: 5) == .seconds(2))
        #expect(policy.delay(forAttempt: 1000) == .seconds(2))
    }
}
