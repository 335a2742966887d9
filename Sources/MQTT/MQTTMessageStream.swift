import Synchronization

/// Messages from all of a client's subscriptions, in arrival order.
///
/// Bounded buffer, slow-consumer policy **drop oldest**: the buffer holds at most
/// `MQTTConfiguration.messageBufferSize` messages; when a message arrives and the buffer is full,
/// the oldest buffered message is discarded and `droppedCount` goes up by one. The event-loop
/// thread never waits for a consumer, so one slow consumer cannot stall other clients sharing the
/// loop. Consumers that must not lose messages keep up, or raise the buffer size (QoS guarantees
/// end at this buffer). The stream finishes when the client is closed.
///
/// One consumer at a time: iterate it from a single task. As with `AsyncStream`, cancelling the
/// task that is waiting in `next()` finishes the stream for good.
public struct MQTTMessageStream: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    public typealias Failure = Never

    let stream: AsyncStream<MQTTMessage>
    let dropCounter: MessageDropCounter

    /// Messages discarded so far because the consumer fell behind.
    public var droppedCount: Int { dropCounter.value }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<MQTTMessage>.AsyncIterator

        public mutating func next() async -> MQTTMessage? {
            await base.next()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> MQTTMessage? {
            await base.next(isolation: actor)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator())
    }
}

/// Counts messages dropped by the buffer.
final class MessageDropCounter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func increment() { count.add(1, ordering: .relaxed) }
}
