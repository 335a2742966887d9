import Foundation
import MQTT
import Synchronization

/// The broker-bound limit: QoS 1 messages per second from one publisher to one subscriber through
/// the same broker the fleet uses, measured by the Swift MQTT client.
struct RawBrokerRate: Sendable {
    let messages: Int
    let received: Int
    let seconds: Double
    var rate: Double { seconds > 0 ? Double(received) / seconds : 0 }
    var lost: Int { messages - received }

    /// Publishes `messages` QoS 1 messages (`window` in flight) and counts what the subscriber got,
    /// from the first publish to the last arrival; gives up `idle` after the last arrival.
    static func measure(
        port: Int, messages: Int, payload: Int = 200, window: Int = 1000, idle: Duration = .seconds(5)
    ) async throws -> RawBrokerRate {
        let loop = MQTTEventLoop()
        let subscriber = MQTTClient(
            MQTTConfiguration(
                host: "127.0.0.1", port: port, clientID: "fleet-bench-raw-sub", reconnect: .disabled,
                messageBufferSize: messages + 16), loop: loop)
        let publisher = MQTTClient(
            MQTTConfiguration(host: "127.0.0.1", port: port, clientID: "fleet-bench-raw-pub", reconnect: .disabled),
            loop: loop)
        defer {
            subscriber.close()
            publisher.close()
        }
        try await subscriber.connect()
        try await publisher.connect()
        let topic = "fleet-bench/raw"
        _ = try await subscriber.subscribe(topic, qos: .atLeastOnce)
        let counter = ArrivalCounter()
        let stream = subscriber.messages
        let reader = Task {
            for await _ in stream { if counter.arrived() >= messages { break } }
        }
        let started = ContinuousClock.now
        _ = try await publishWindowed(
            publisher, topic: topic, payload: [UInt8](repeating: 0x61, count: payload), count: messages,
            window: window)
        while counter.count < messages, ContinuousClock.now - counter.lastArrival(or: started) < idle {
            try await Task.sleep(for: .milliseconds(20))
        }
        reader.cancel()
        let elapsed = FleetSim.seconds(counter.lastArrival(or: started) - started)
        await subscriber.disconnect()
        await publisher.disconnect()
        return RawBrokerRate(messages: messages, received: counter.count, seconds: elapsed)
    }
}

/// Counts arrivals and remembers the time of the last one.
private final class ArrivalCounter: Sendable {
    private let state = Mutex<(count: Int, last: ContinuousClock.Instant?)>((0, nil))

    func arrived() -> Int {
        state.withLock {
            $0.count += 1
            $0.last = .now
            return $0.count
        }
    }

    var count: Int { state.withLock { $0.count } }
    func lastArrival(or fallback: ContinuousClock.Instant) -> ContinuousClock.Instant {
        state.withLock { $0.last ?? fallback }
    }
}
