import BrokerHarness
import Foundation
import Synchronization
import Testing

@testable import MQTT

/// A consumer that falls behind slows the broker down; nothing it was sent is lost.
@Suite struct FlowControlTests {
    /// Publishes `count` QoS 1 messages "0"..."count-1" to `topic`, up to 500 in flight.
    private func publishNumbered(_ count: Int, to topic: String, from publisher: MQTTClient) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                if index >= 500 { try await group.next() }
                group.addTask { try await publisher.publish(topic, string: "\(index)", qos: .atLeastOnce) }
            }
            try await group.waitForAll()
        }
    }

    @Test func slowConsumerLosesNoQoS1MessageAndCountsTheHoldBacks() async throws {
        // The staging site's in-flight window (broker-config/mosquitto.conf): the broker stops after
        // 20 unacknowledged messages and queues the rest.
        let broker = try await Broker.start(config: "max_inflight_messages 20\n")
        var configuration = MQTTConfiguration(port: broker.port, clientID: uniqueID("slow"), messageBufferSize: 20)
        configuration.reconnect = .disabled
        let consumer = MQTTClient(configuration)
        try await consumer.connect()
        try await consumer.subscribe("flow/#", qos: .atLeastOnce)
        let publisher = try await connectedClient(broker)
        let total = 3000

        // All 3000 are acknowledged to the publisher long before the consumer has read them.
        try await publishNumbered(total, to: "flow/x", from: publisher)
        let received = try await withTimeout(.seconds(60), "\(total) messages") {
            var seen: [Int] = []
            for await message in consumer.messages {
                seen.append(Int(message.string) ?? -1)
                if seen.count % 100 == 0 { try await Task.sleep(for: .milliseconds(10)) }
                if seen.count == total { break }
            }
            return seen
        }
        #expect(received.sorted() == Array(0..<total))
        let statistics = consumer.flowStatistics
        print("slow consumer, \(total) QoS 1 messages: \(statistics)")
        #expect(statistics.pauseCount > 0)
        #expect(statistics.pausedDuration > .zero)
        #expect(statistics.undeliveredCount == 0)
        #expect(consumer.droppedMessageCount == 0)
        // The buffer stayed near its high-water mark although 3000 were waiting at the broker.
        #expect(statistics.peakBuffered < 200)
        consumer.close()
        publisher.close()
        await broker.stop()
    }

    /// provisiond's pattern: handle a message, publish an answer, await its PUBACK. The PUBACK sits
    /// behind held-back messages; reading must go on for it.
    @Test func consumerThatPublishesWhileHeldBackNeverDeadlocks() async throws {
        let broker = try await Broker.start()
        let consumer = MQTTClient(
            MQTTConfiguration(port: broker.port, clientID: uniqueID("echo"), messageBufferSize: 4))
        try await consumer.connect()
        try await consumer.subscribe("ask/#", qos: .atLeastOnce)
        let publisher = try await connectedClient(broker)
        try await publisher.subscribe("answer/#", qos: .atLeastOnce)
        let total = 400
        try await publishNumbered(total, to: "ask/x", from: publisher)
        let handled = try await withTimeout(.seconds(60), "\(total) answers") {
            var handled = 0
            for await message in consumer.messages {
                try await consumer.publish("answer/x", payload: message.payload, qos: .atLeastOnce)
                handled += 1
                if handled == total { break }
            }
            return handled
        }
        #expect(handled == total)
        #expect(try await receive(total, from: publisher, timeout: .seconds(60)).count == total)
        #expect(consumer.droppedMessageCount == 0)
        consumer.close()
        publisher.close()
        await broker.stop()
    }

    @Test func messagesAfterTheConsumerWasCancelledAreCounted() async throws {
        let broker = try await Broker.start()
        let consumer = try await connectedClient(broker)
        try await consumer.subscribe("gone/#", qos: .atLeastOnce)
        let listening = Task { for await _ in consumer.messages {} }
        listening.cancel()
        await listening.value
        let publisher = try await connectedClient(broker)
        try await publishNumbered(10, to: "gone/x", from: publisher)
        try await withTimeout(.seconds(10), "undelivered messages to be counted") {
            while consumer.droppedMessageCount < 10 { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(consumer.flowStatistics.undeliveredCount == 10)
        consumer.close()
        publisher.close()
        await broker.stop()
    }
}

final class ResumeCounter: Sendable {
    let count = Atomic(0)
}

@Suite struct IncomingBufferTests {
    private func message(_ index: Int) -> MQTTMessage {
        MQTTMessage(topic: "t", payload: Array("\(index)".utf8), qos: .atLeastOnce, retain: false)
    }

    @Test func pausesAtHighWaterAndResumesOnceHalfIsTaken() async {
        let resumes = ResumeCounter()
        let buffer = IncomingBuffer(highWater: 4) { resumes.count.add(1, ordering: .relaxed) }
        for index in 0..<3 { buffer.deliver(message(index)) }
        #expect(!buffer.pauseIfFull())
        buffer.deliver(message(3))
        #expect(buffer.pauseIfFull())
        buffer.deliver(message(4))  // above the mark: kept, counted
        #expect(buffer.statistics.overflowCount == 1)
        #expect(buffer.statistics.pauseCount == 1)
        for expected in 0..<2 { #expect(await buffer.next()?.string == "\(expected)") }
        #expect(resumes.count.load(ordering: .relaxed) == 0)  // 3 left, low-water mark is 2
        #expect(await buffer.next()?.string == "2")
        #expect(resumes.count.load(ordering: .relaxed) == 1)
        for expected in 3..<5 { #expect(await buffer.next()?.string == "\(expected)") }
        #expect(buffer.statistics.peakBuffered == 5)
        #expect(buffer.statistics.buffered == 0)
        buffer.finish()
        #expect(await buffer.next() == nil)
    }

    @Test func closingKeepsBufferedMessagesForTheConsumer() async {
        let buffer = IncomingBuffer(highWater: 8) {}
        buffer.deliver(message(1))
        buffer.finish()
        buffer.deliver(message(2))
        #expect(await buffer.next()?.string == "1")
        #expect(await buffer.next() == nil)
        #expect(buffer.statistics.undeliveredCount == 1)
    }
}
