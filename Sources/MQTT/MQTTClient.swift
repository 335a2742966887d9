import Synchronization

/// An MQTT 3.1.1 / 5 client over libmosquitto, driven by an `MQTTEventLoop`.
///
/// ```swift
/// let client = MQTTClient(MQTTConfiguration(host: "127.0.0.1", port: 1883, clientID: "provisiond"))
/// try await client.connect()
/// try await client.subscribe("bootstrap/v1/devices/+/hello")
/// try await client.publish("bootstrap/v1/service/status", string: "{...}", retain: true)
/// for await message in client.messages { handle(message) }
/// await client.disconnect()
/// client.close()
/// ```
///
/// All operations are queued to the loop thread, which owns the libmosquitto handle. A client costs
/// a socket and a little memory, so hundreds can share one loop. Operations are not cancellable;
/// `close()` fails everything outstanding with `MQTTError.closed`.
public final class MQTTClient: Sendable {
    public let configuration: MQTTConfiguration
    private let loop: MQTTEventLoop
    private let id: UInt64
    private let shared: ClientShared

    private static let nextID = Atomic<UInt64>(1)

    public init(_ configuration: MQTTConfiguration, loop: MQTTEventLoop = .shared) {
        self.configuration = configuration
        self.loop = loop
        let id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.id = id
        let core = loop.core
        // When the consumer has drained the buffer, the loop starts reading this client again.
        let shared = ClientShared(bufferSize: configuration.messageBufferSize) {
            core.submit { core in core.connections[id]?.consumerCaughtUp() }
        }
        self.shared = shared
        loop.core.submit { core in
            core.connections[id] = Connection(id: id, configuration: configuration, shared: shared)
        }
    }

    deinit {
        close()
    }

    /// Connects and returns after the broker accepted (CONNACK success).
    ///
    /// A failed first connect is not retried. After a successful connect, a lost connection is
    /// re-established per `MQTTConfiguration.reconnect` and every active subscription is renewed.
    /// - Throws: `MQTTError.badCredentials`, `.notAuthorized`, `.connectionRefused(code:)`,
    ///   `.unreachable`, `.invalidArgument`, `.closed`.
    public func connect() async throws {
        let id = self.id
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.core.submit { core in
                guard let connection = core.connections[id] else {
                    return continuation.resume(throwing: MQTTError.closed)
                }
                connection.connect(continuation)
            }
        }
    }

    /// Publishes and returns when the broker has it: after PUBACK (QoS 1), PUBCOMP (QoS 2), or
    /// once written to the socket (QoS 0).
    ///
    /// Call it concurrently to pipeline: each call is one MQTT message id, sent at once, and
    /// completes on its own acknowledgement, so thousands can be in flight on one connection
    /// (beyond `MQTTConfiguration.maxOutstandingPublishes` they wait in order). A refused publish
    /// fails its caller and is not retried: with MQTT 5, a PUBACK reason code ≥ 0x80 (e.g. 0x87
    /// not authorized) and a packet larger than the broker's announced maximum (reported as 0x95,
    /// checked before sending) throw `publishRejected`. With MQTT 3.1.1 the broker cannot refuse:
    /// it acknowledges a publish its ACL denies and disconnects a client whose packet is too large,
    /// after which libmosquitto resends the QoS 1 message on every reconnect; use `.v5` where the
    /// payload size or ACL may refuse.
    /// - Throws: `MQTTError.notConnected` when not connected, `.publishRejected` when the broker
    ///   refused it, `.invalidArgument` for a bad topic, `.closed`.
    public func publish(_ topic: String, payload: [UInt8], qos: QoS = .atLeastOnce, retain: Bool = false) async throws {
        guard !topic.isEmpty, !topic.contains("+"), !topic.contains("#"), !topic.utf8.contains(0) else {
            throw MQTTError.invalidArgument("topic \"\(topic)\" must be non-empty without wildcards or NUL")
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enqueue(topic, payload: payload, qos: qos, retain: retain, PublishCompletion(continuation))
        }
    }

    /// Queues a publish and returns at once; `completion` gets its outcome (the errors of
    /// `publish(_:payload:qos:retain:)`) on the client's loop thread, so it must be quick.
    ///
    /// Publishes queued by one task go out in the order of the calls, so a caller can keep many in
    /// flight without giving up ordering per topic (an empty retained message, then a new one).
    public func publish(
        _ topic: String, payload: [UInt8], qos: QoS = .atLeastOnce, retain: Bool = false,
        completion: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        guard !topic.isEmpty, !topic.contains("+"), !topic.contains("#"), !topic.utf8.contains(0) else {
            return completion(
                .failure(MQTTError.invalidArgument("topic \"\(topic)\" must be non-empty without wildcards or NUL")))
        }
        enqueue(topic, payload: payload, qos: qos, retain: retain, PublishCompletion(completion))
    }

    private func enqueue(_ topic: String, payload: [UInt8], qos: QoS, retain: Bool, _ completion: PublishCompletion) {
        let id = self.id
        let outgoing = OutgoingPublish(
            topic: topic, payload: payload, qos: qos, retain: retain, continuation: completion)
        loop.core.submit { core in
            guard let connection = core.connections[id] else {
                return completion.resume(throwing: MQTTError.closed)
            }
            connection.publish(outgoing)
        }
    }

    /// The value of an integer option of the connection's socket (`getsockopt`), or nil when there is
    /// no socket. For tests.
    func socketOption(level: Int32, name: Int32) async -> Int32? {
        let id = self.id
        return await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
            loop.core.submit { core in
                continuation.resume(returning: core.connections[id]?.socketOption(level: level, name: name))
            }
        }
    }

    /// Publishes UTF-8 text.
    public func publish(_ topic: String, string: String, qos: QoS = .atLeastOnce, retain: Bool = false) async throws {
        try await publish(topic, payload: Array(string.utf8), qos: qos, retain: retain)
    }

    /// Subscribes and returns the QoS the broker granted. The subscription is renewed after reconnects.
    /// - Throws: `MQTTError.subscriptionRefused(filter:)` when the broker refuses it (SUBACK 0x80
    ///   or a v5 failure code, e.g. denied by the ACL), `.notConnected`, `.closed`.
    @discardableResult
    public func subscribe(_ filter: String, qos: QoS = .atLeastOnce) async throws -> QoS {
        guard !filter.isEmpty, !filter.utf8.contains(0) else {
            throw MQTTError.invalidArgument("topic filter must be non-empty without NUL")
        }
        let id = self.id
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<QoS, any Error>) in
            loop.core.submit { core in
                guard let connection = core.connections[id] else {
                    return continuation.resume(throwing: MQTTError.closed)
                }
                connection.subscribe(filter: filter, qos: qos, continuation: continuation)
            }
        }
    }

    /// Unsubscribes and returns after UNSUBACK.
    public func unsubscribe(_ filter: String) async throws {
        let id = self.id
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.core.submit { core in
                guard let connection = core.connections[id] else {
                    return continuation.resume(throwing: MQTTError.closed)
                }
                connection.unsubscribe(filter: filter, continuation: continuation)
            }
        }
    }

    /// Incoming messages. A consumer that falls behind slows the broker down instead of losing
    /// messages: see `MQTTMessageStream` for the flow control.
    public var messages: MQTTMessageStream { shared.messages }

    /// Messages acknowledged to the broker that no consumer received because the task iterating
    /// `messages` had been cancelled. A slow consumer never adds to it: the client stops reading
    /// from the broker instead (see `flowStatistics`).
    public var droppedMessageCount: Int { shared.messages.droppedCount }

    /// How often and how long the client held messages back at the broker because the consumer
    /// lagged, and how full its buffer got.
    public var flowStatistics: MQTTFlowStatistics { shared.messages.buffer.statistics }

    public var state: MQTTConnectionState { shared.state }

    /// The most publishes this client had outstanding at once (for tests of pipelining).
    func peakOutstandingPublishes() async -> Int {
        let id = self.id
        return await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            loop.core.submit { core in
                continuation.resume(returning: core.connections[id]?.peakOutstandingPublishes ?? 0)
            }
        }
    }

    /// The current state, then every change, until the client is closed.
    public func stateUpdates() -> AsyncStream<MQTTConnectionState> {
        shared.stateUpdates()
    }

    /// Sends DISCONNECT (so the broker discards the will) and closes the connection. Stops
    /// reconnecting; `connect()` may be called again. Outstanding operations fail with `.notConnected`.
    public func disconnect() async {
        let id = self.id
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.core.submit { core in
                guard let connection = core.connections[id] else { return continuation.resume() }
                connection.disconnect(continuation)
            }
        }
    }

    /// Ends the client at once: the socket is closed without DISCONNECT (the broker publishes the
    /// will, as after a crash; call `disconnect()` first for a clean goodbye), outstanding operations
    /// fail with `MQTTError.closed`, and the message and state streams finish.
    /// Idempotent, never blocks, safe from any thread or task (also called by `deinit`).
    public func close() {
        guard shared.markClosed() else { return }
        let id = self.id
        loop.core.submit { core in
            core.connections.removeValue(forKey: id)?.close()
        }
    }
}

/// State shared between an `MQTTClient` (any thread) and its `Connection` (loop thread).
final class ClientShared: Sendable {
    private struct StateBox {
        var current: MQTTConnectionState = .disconnected
        var observers: [Int: AsyncStream<MQTTConnectionState>.Continuation] = [:]
        var nextObserver = 0
    }

    let messages: MQTTMessageStream
    private let box = Mutex(StateBox())

    init(bufferSize: Int, onConsumerCaughtUp: @escaping @Sendable () -> Void) {
        messages = MQTTMessageStream(buffer: IncomingBuffer(highWater: bufferSize, onResume: onConsumerCaughtUp))
    }

    var state: MQTTConnectionState { box.withLock { $0.current } }

    func setState(_ state: MQTTConnectionState) {
        box.withLock { box in
            guard box.current != .closed, box.current != state else { return }
            box.current = state
            for observer in box.observers.values { observer.yield(state) }
        }
    }

    /// Sets `.closed`; returns false if it already was.
    func markClosed() -> Bool {
        let observers: [AsyncStream<MQTTConnectionState>.Continuation]? = box.withLock { box in
            guard box.current != .closed else { return nil }
            box.current = .closed
            let observers = Array(box.observers.values)
            box.observers.removeAll()
            return observers
        }
        guard let observers else { return false }
        for observer in observers {
            observer.yield(.closed)
            observer.finish()
        }
        return true
    }

    func finish() {
        _ = markClosed()
        messages.buffer.finish()
    }

    func stateUpdates() -> AsyncStream<MQTTConnectionState> {
        let (stream, continuation) = AsyncStream.makeStream(of: MQTTConnectionState.self)
        let registered: Int? = box.withLock { box in
            continuation.yield(box.current)
            guard box.current != .closed else { return nil }
            let key = box.nextObserver
            box.nextObserver += 1
            box.observers[key] = continuation
            return key
        }
        guard let key = registered else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.box.withLock { $0.observers.removeValue(forKey: key) }
        }
        return stream
    }
}
