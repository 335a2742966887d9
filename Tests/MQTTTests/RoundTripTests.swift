import BrokerHarness
import Foundation
import MQTT
import Testing

@Suite struct RoundTripTests {
    @Test(arguments: [QoS.atMostOnce, .atLeastOnce, .exactlyOnce])
    func deliversPublishedMessageAtQoS(_ qos: QoS) async throws {
        let broker = try await Broker.start()
        let subscriber = try await connectedClient(broker)
        let publisher = try await connectedClient(broker)
        let granted = try await subscriber.subscribe("rt/\(qos.rawValue)/#", qos: qos)
        #expect(granted == qos)

        let payload: [UInt8] = [0, 1, 2, 255] + Array("hello".utf8)
        try await publisher.publish("rt/\(qos.rawValue)/x", payload: payload, qos: qos)
        let received = try await receive(1, from: subscriber)
        #expect(received == [MQTTMessage(topic: "rt/\(qos.rawValue)/x", payload: payload, qos: qos, retain: false)])

        await publisher.disconnect()
        await subscriber.disconnect()
        #expect(subscriber.state == .disconnected)
        publisher.close()
        subscriber.close()
        await broker.stop()
    }

    @Test func retainedMessageReachesLaterSubscriber() async throws {
        let broker = try await Broker.start()
        let publisher = try await connectedClient(broker)
        try await publisher.publish("retained/topic", string: "kept", qos: .atLeastOnce, retain: true)

        let late = try await connectedClient(broker)
        try await late.subscribe("retained/#")
        let received = try await receive(1, from: late)
        #expect(received.first?.string == "kept")
        #expect(received.first?.retain == true)

        // An empty retained message clears it: a third subscriber gets nothing retained.
        try await publisher.publish("retained/topic", payload: [], qos: .atLeastOnce, retain: true)
        let third = try await connectedClient(broker)
        try await third.subscribe("retained/#")
        try await publisher.publish("retained/marker", string: "live", qos: .atLeastOnce)
        let next = try await receive(1, from: third)
        #expect(next.first?.topic == "retained/marker")

        publisher.close()
        late.close()
        third.close()
        await broker.stop()
    }

    @Test func mqtt5ConnectPublishAndSubscribe() async throws {
        let broker = try await Broker.start()
        let client = try await connectedClient(broker, version: .v5)
        #expect(client.state == .connected)
        try await client.subscribe("v5/echo", qos: .exactlyOnce)
        try await client.publish("v5/echo", string: "five", qos: .exactlyOnce)
        let received = try await receive(1, from: client)
        #expect(received.first?.string == "five")
        client.close()
        await broker.stop()
    }

    @Test func unsubscribeStopsDelivery() async throws {
        let broker = try await Broker.start()
        let client = try await connectedClient(broker)
        try await client.subscribe("u/a")
        try await client.subscribe("u/b")
        try await client.unsubscribe("u/a")
        try await client.publish("u/a", string: "not for us")
        try await client.publish("u/b", string: "for us")
        let received = try await receive(1, from: client)
        #expect(received.first?.topic == "u/b")
        client.close()
        await broker.stop()
    }

    @Test func connectsThroughUnixSocket() async throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let socketPath = dir.appendingPathComponent("mqtt.sock").path
        let broker = try await Broker.start(config: "listener 0 \(socketPath)\n")
        let client = MQTTClient(.unixSocket(path: socketPath, clientID: uniqueID("unix")))
        try await client.connect()
        try await client.subscribe("unix/t")
        try await client.publish("unix/t", string: "local")
        #expect(try await receive(1, from: client).first?.string == "local")
        client.close()
        await broker.stop()
    }

    @Test func publishWithoutConnectionFailsClearly() async throws {
        let client = MQTTClient(MQTTConfiguration(port: 1, clientID: uniqueID()))
        await #expect(throws: MQTTError.notConnected) {
            try await client.publish("a/b", string: "x")
        }
        await #expect(throws: MQTTError.invalidArgument("topic \"a/#\" must be non-empty without wildcards or NUL")) {
            try await client.publish("a/#", string: "x")
        }
        client.close()
    }
}
