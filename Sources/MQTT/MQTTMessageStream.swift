import Synchronization

/// Messages from all of a client's subscriptions, in arrival order. Nothing is dropped because the
/// consumer is slow: a lagging consumer makes the client stop reading from the broker.
///
/// Flow control: when `MQTTConfiguration.messageBufferSize` messages wait here, the client stops
/// reading its socket (it stays connected and keeps sending), and resumes once the consumer has
/// taken half of them. While the client does not read, it does not acknowledge either, so the
/// broker's in-flight window for this client fills (`max_inflight_messages`, or the v5 receive
/// maximum), TCP flow control stops the broker's writes, and the broker queues further messages
/// for this client (up to `max_queued_messages` / `max_queued_bytes`: size those for the largest
/// burst a consumer must absorb). See `MQTTFlowStatistics` for what is counted.
///
/// The buffer is a high-water mark, not a hard cap. libmosquitto acknowledges a QoS 1 message
/// before handing it over, so every message it has read is kept, also above the mark, in three
/// cases: the rest of one read pass; while the client awaits a broker answer (PUBACK, SUBACK),
/// which can only be read after the messages ahead of it, so a consumer that publishes while
/// handling a message never deadlocks; and one read pass every half keepalive interval, so that a
/// stalled consumer does not get the connection declared dead.
///
/// The loop thread never waits for a consumer, so one slow consumer cannot stall other clients
/// sharing the loop. One consumer at a time: iterate it from a single task. As with `AsyncStream`,
/// cancelling the task that is waiting in `next()` finishes the stream for good; messages still
/// buffered then or arriving later are counted in `MQTTFlowStatistics.undeliveredCount`. When the
/// client is closed the stream finishes after the messages already buffered.
public struct MQTTMessageStream: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    public typealias Failure = Never

    let buffer: IncomingBuffer

    /// Messages that arrived after the stream had finished (consumer gone), so nobody received them.
    public var droppedCount: Int { buffer.statistics.undeliveredCount }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: IncomingBuffer

        public mutating func next() async -> MQTTMessage? {
            await buffer.next()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> MQTTMessage? {
            await buffer.next()
        }

        /// The next message and up to `limit - 1` more that are already buffered, in order, so a
        /// consumer can handle them together; nil when the stream has finished.
        public mutating func next(upTo limit: Int) async -> [MQTTMessage]? {
            guard let first = await buffer.next() else { return nil }
            return [first] + buffer.popAvailable(Swift.max(limit - 1, 0))
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(buffer: buffer)
    }
}

/// What the client's incoming flow control has done so far (see `MQTTMessageStream`).
public struct MQTTFlowStatistics: Sendable, Hashable {
    /// Times the client stopped reading from the broker because the consumer lagged: the times it
    /// could not handle the incoming rate and left the messages with the broker instead.
    public var pauseCount = 0
    /// Total time reading was stopped for that reason (up to the last resume).
    public var pausedDuration = Duration.zero
    /// Messages accepted while the buffer was at or above its high-water mark (see
    /// `MQTTMessageStream` for when that happens). Kept, not dropped.
    public var overflowCount = 0
    /// The most messages that ever waited for the consumer at once.
    public var peakBuffered = 0
    /// Messages waiting for the consumer now.
    public var buffered = 0
    /// Messages acknowledged to the broker that nobody received: they arrived after the consumer's
    /// task was cancelled (which ends the stream), or were still buffered then.
    public var undeliveredCount = 0
}

/// The incoming queue between the loop thread (producer) and the consumer of `MQTTMessageStream`.
///
/// The pause flag lives under the same lock as the count, so the loop's "pause now" and the
/// consumer's "resume now" can never miss each other: the consumer calls `onResume` exactly when it
/// clears a flag the loop set.
final class IncomingBuffer: Sendable {
    private struct State {
        var messages: [MQTTMessage] = []
        var head = 0
        var waiters: [CheckedContinuation<MQTTMessage?, Never>] = []
        var finished = false
        var paused = false
        var pausedSince: ContinuousClock.Instant?
        var statistics = MQTTFlowStatistics()

        var count: Int { messages.count - head }

        mutating func pop() -> MQTTMessage? {
            guard head < messages.count else { return nil }
            let message = messages[head]
            head += 1
            if head == messages.count {
                messages.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024 && head * 2 >= messages.count {
                messages.removeFirst(head)
                head = 0
            }
            statistics.buffered = count
            return message
        }

        /// Clears the pause flag when at most `lowWater` messages remain; true if it was set.
        mutating func clearPauseIfDrained(lowWater: Int) -> Bool {
            guard paused, count <= lowWater else { return false }
            paused = false
            if let since = pausedSince { statistics.pausedDuration += .now - since }
            pausedSince = nil
            return true
        }
    }

    /// Reading stops at this many buffered messages...
    let highWater: Int
    /// ...and resumes at this many.
    let lowWater: Int
    private let state = Mutex(State())
    /// Called (on the consumer's task, outside the lock) when the consumer clears the pause flag.
    private let onResume: @Sendable () -> Void

    init(highWater: Int, onResume: @escaping @Sendable () -> Void) {
        self.highWater = max(highWater, 1)
        self.lowWater = self.highWater / 2
        self.onResume = onResume
    }

    var statistics: MQTTFlowStatistics { state.withLock { $0.statistics } }

    /// Loop thread: hands `message` to a waiting consumer or buffers it. Never drops it unless the
    /// stream has finished.
    func deliver(_ message: MQTTMessage) {
        let waiter: CheckedContinuation<MQTTMessage?, Never>? = state.withLock { state in
            if state.finished {
                state.statistics.undeliveredCount += 1
                return nil
            }
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            if state.count >= highWater { state.statistics.overflowCount += 1 }
            state.messages.append(message)
            state.statistics.buffered = state.count
            state.statistics.peakBuffered = max(state.statistics.peakBuffered, state.count)
            return nil
        }
        waiter?.resume(returning: message)
    }

    /// Loop thread: true (and the pause flag set) when the buffer is at its high-water mark.
    func pauseIfFull() -> Bool {
        state.withLock { state in
            guard !state.finished, state.count >= highWater else { return false }
            if !state.paused {
                state.paused = true
                state.pausedSince = .now
                state.statistics.pauseCount += 1
            }
            return true
        }
    }

    func next() async -> MQTTMessage? {
        if let (message, resume) = popBuffered() {
            if resume { onResume() }
            return message
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<MQTTMessage?, Never>) in
                // Checked again under the lock: a message may have arrived since `popBuffered`.
                let now: (message: MQTTMessage?, resume: Bool)? = state.withLock { state in
                    if let message = state.pop() {
                        return (message, state.clearPauseIfDrained(lowWater: lowWater))
                    }
                    if state.finished || Task.isCancelled { return (nil, false) }
                    state.waiters.append(continuation)
                    return nil
                }
                guard let now else { return }
                if now.resume { onResume() }
                continuation.resume(returning: now.message)
            }
        } onCancel: {
            cancel()
        }
    }

    /// Up to `limit` buffered messages, oldest first, without waiting.
    func popAvailable(_ limit: Int) -> [MQTTMessage] {
        guard limit > 0 else { return [] }
        let (messages, resume): ([MQTTMessage], Bool) = state.withLock { state in
            var taken: [MQTTMessage] = []
            while taken.count < limit, let message = state.pop() { taken.append(message) }
            return (taken, state.clearPauseIfDrained(lowWater: lowWater))
        }
        if resume { onResume() }
        return messages
    }

    /// The oldest buffered message, if any, and whether taking it cleared the pause flag.
    private func popBuffered() -> (MQTTMessage, Bool)? {
        state.withLock { state in
            guard let message = state.pop() else { return nil }
            return (message, state.clearPauseIfDrained(lowWater: lowWater))
        }
    }

    /// The client is closed: the consumer still gets what is buffered, then nil.
    func finish() {
        let waiters = state.withLock { state in
            state.finished = true
            let waiters = state.waiters
            state.waiters.removeAll()
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    /// The consumer was cancelled: the stream ends for good, buffered messages are counted as
    /// undelivered, and reading resumes (nobody will drain the buffer any more).
    private func cancel() {
        let (waiters, resume): ([CheckedContinuation<MQTTMessage?, Never>], Bool) = state.withLock { state in
            state.finished = true
            state.statistics.undeliveredCount += state.count
            state.messages.removeAll()
            state.head = 0
            state.statistics.buffered = 0
            let waiters = state.waiters
            state.waiters.removeAll()
            return (waiters, state.clearPauseIfDrained(lowWater: 0))
        }
        for waiter in waiters { waiter.resume(returning: nil) }
        if resume { onResume() }
    }
}
