import MQTT

/// Publishes `count` QoS 1 messages with at most `window` awaiting their PUBACK at once.
/// - Returns: how many were acknowledged.
public func publishWindowed(
    _ client: MQTTClient, topic: String, payload: [UInt8], count: Int, window: Int
) async throws -> Int {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var sent = 0
        var done = 0
        while sent < min(window, count) {
            group.addTask { try await client.publish(topic, payload: payload, qos: .atLeastOnce) }
            sent += 1
        }
        while try await group.next() != nil {
            done += 1
            if sent < count {
                group.addTask { try await client.publish(topic, payload: payload, qos: .atLeastOnce) }
                sent += 1
            }
        }
        return done
    }
}
