import BrokerHarness
import Foundation
import Testing

@testable import MQTT

/// Publish semantics: small packets go out at once, publishes pipeline, refusals fail the caller.
@Suite struct PublishTests {
    /// The median of 50 QoS 1 request→reply round trips on loopback, as provisiond answers a hello:
    /// the responder's client acknowledges the request and at once publishes the reply, two small
    /// writes in a row, the pattern where Nagle's algorithm waits for the peer's delayed ACK.
    static func medianRoundTrip(_ broker: Broker, tcpNoDelay: Bool) async throws -> Duration {
        var configuration = MQTTConfiguration(port: broker.port, clientID: uniqueID("rt"))
        configuration.tcpNoDelay = tcpNoDelay
        let requester = MQTTClient(configuration)
        configuration.clientID = uniqueID("rt")
        let responder = MQTTClient(configuration)
        defer {
            requester.close()
            responder.close()
        }
        try await requester.connect()
        try await responder.connect()
        try await requester.subscribe("rtt/reply", qos: .atLeastOnce)
        try await responder.subscribe("rtt/request", qos: .atLeastOnce)
        let echo = Task {
            for await message in responder.messages {
                try await responder.publish("rtt/reply", payload: message.payload, qos: .atLeastOnce)
            }
        }
        defer { echo.cancel() }
        var replies = requester.messages.makeAsyncIterator()
        var samples: [Duration] = []
        for index in 0..<50 {
            let start = ContinuousClock.now
            try await requester.publish("rtt/request", string: "\(index)", qos: .atLeastOnce)
            guard let reply = await replies.next(), reply.string == "\(index)" else {
                throw TestTimeout(what: "round trip \(index)")
            }
            samples.append(.now - start)
        }
        return samples.sorted()[samples.count / 2]
    }

    /// Nagle's algorithm with delayed ACKs costs up to 40 ms per small packet (issue 11 measured an
    /// 87 ms hello→config round trip with it, 4 ms without). A behaviour check with a wide margin,
    /// not a benchmark.
    @Test func qos1RoundTripIsWellUnderNaglesDelay() async throws {
        let broker = try await Broker.start()
        let median = try await Self.medianRoundTrip(broker, tcpNoDelay: true)
        print("median QoS 1 request→reply round trip with TCP_NODELAY: \(median)")
        #expect(median < .milliseconds(20))
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
