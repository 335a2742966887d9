import BrokerHarness
import Foundation
import Testing

@testable import MQTT

/// Publish semantics: small packets go out at once, publishes pipeline, refusals fail the caller.
@Suite struct PublishTests {
    /// With `tcpNoDelay` (the default) the client's socket has TCP_NODELAY set, so a small packet is
    /// not held back by Nagle's algorithm until the broker's delayed ACK (issue 11 measured an 87 ms
    /// hello→config round trip with it, 4 ms without); with it off, the option is not set. The
    /// shipped broker configurations set `set_tcp_nodelay true` (BrokerConfigTests).
    @Test(arguments: [true, false]) func tcpNoDelayIsSetOnTheSocket(_ noDelay: Bool) async throws {
        let broker = try await Broker.start()
        var configuration = MQTTConfiguration(port: broker.port, clientID: uniqueID("nd"))
        configuration.tcpNoDelay = noDelay
        let client = MQTTClient(configuration)
        try await client.connect()
        let value = await client.socketOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY)
        #expect(value.map { $0 != 0 } == noDelay)
        client.close()
        await broker.stop()
    }

    @Test func thousandsOfConcurrentPublishesOverlapAndAllComplete() async throws {
        let broker = try await Broker.start()
        let publisher = try await connectedClient(broker)
        let subscriber = try await connectedClient(broker)
        try await subscriber.subscribe("pipe/#", qos: .atLeastOnce)
        let total = 5000
        let completed = try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<total {
                group.addTask { try await publisher.publish("pipe/x", string: "\(index)", qos: .atLeastOnce) }
            }
            var completed = 0
            for try await _ in group { completed += 1 }
            return completed
        }
        #expect(completed == total)
        // Not one at a time: many were in flight together.
        #expect(await publisher.peakOutstandingPublishes() > 100)
        let received = try await receive(total, from: subscriber, timeout: .seconds(60))
        #expect(Set(received.map(\.string)).count == total)
        publisher.close()
        subscriber.close()
        await broker.stop()
    }

    /// A packet over the broker's `max_packet_size` fails its caller with reason code 0x95 (packet
    /// too large) at once, is not retried, and leaves the connection usable.
    @Test func publishLargerThanTheBrokerAllowsFailsClearlyAndIsNotRetried() async throws {
        let broker = try await Broker.start(config: "max_packet_size 2048\n")
        let client = try await connectedClient(broker, version: .v5, reconnect: .disabled)
        try await client.subscribe("big/#", qos: .atLeastOnce)
        let tooLarge = [UInt8](repeating: 0x61, count: 4096)
        _ = try await withTimeout(.seconds(10), "the refused publish to fail") {
            await #expect(throws: MQTTError.publishRejected(reasonCode: 0x95)) {
                try await client.publish("big/x", payload: tooLarge, qos: .atLeastOnce)
            }
        }
        #expect(MQTTError.publishRejected(reasonCode: 0x95).description.contains("packet too large"))
        try await client.publish("big/y", string: "small", qos: .atLeastOnce)
        let received = try await receive(1, from: client)
        #expect(received.map(\.topic) == ["big/y"])
        #expect(client.state == .connected)
        client.close()
        await broker.stop()
    }
}
