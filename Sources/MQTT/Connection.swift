internal import CMosquitto
import Glibc

/// A publish handed to the loop, waiting to be sent or acknowledged.
struct OutgoingPublish: Sendable {
    var topic: String
    var payload: [UInt8]
    var qos: QoS
    var retain: Bool
    var continuation: PublishCompletion
}

/// Who learns the outcome of a publish: an awaiting caller, or a callback (run on the loop thread).
struct PublishCompletion: Sendable {
    private let done: @Sendable (Result<Void, any Error>) -> Void

    init(_ continuation: CheckedContinuation<Void, any Error>) {
        done = { continuation.resume(with: $0) }
    }

    init(_ callback: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        done = callback
    }

    func resume() { done(.success(())) }
    func resume(throwing error: any Error) { done(.failure(error)) }
}

/// A subscribe or unsubscribe waiting for SUBACK / UNSUBACK.
enum PendingRequest {
    /// `continuation` is nil for the automatic resubscription after a reconnect.
    case subscribe(filter: String, qos: QoS, continuation: CheckedContinuation<QoS, any Error>?)
    case unsubscribe(filter: String, continuation: CheckedContinuation<Void, any Error>)
}

/// One client's libmosquitto handle and protocol bookkeeping. Lives on the loop thread only
/// (owned by `LoopCore.connections`); libmosquitto's userdata pointer is an unretained reference
/// to it, valid because the handle is destroyed (in `close()`) before the dictionary drops it.
final class Connection {
    enum Phase: Equatable {
        /// No connection and none wanted (new, after `disconnect()`, or after a failed first connect).
        case idle
        /// First connection attempt, `connect()` callers waiting.
        case connecting
        case connected
        /// Lost after having been connected; a reconnect attempt is scheduled.
        case waitingToReconnect
        /// A reconnect attempt is under way.
        case reconnecting
        case disconnecting
        case closed
    }

    let id: UInt64
    let configuration: MQTTConfiguration
    let shared: ClientShared
    private var mosq: OpaquePointer?
    private(set) var phase: Phase = .idle
    private var everConnected = false
    private var reconnectAttempt = 0
    private(set) var reconnectAt: ContinuousClock.Instant?
    private var connectWaiters: [CheckedContinuation<Void, any Error>] = []
    private var disconnectWaiters: [CheckedContinuation<Void, Never>] = []
    /// A CONNACK refusal, reported when libmosquitto then closes the socket.
    private var connackError: MQTTError?
    private var publishes = PendingOperations<OutgoingPublish>()
    private var requests = PendingOperations<PendingRequest>()
    /// Publishes waiting for a free slot (see `MQTTConfiguration.maxOutstandingPublishes`).
    private var backlog: [OutgoingPublish] = []
    private var backlogHead = 0
    /// Active subscriptions, in the order they were made; replayed after every reconnect.
    private var subscriptions: [(filter: String, qos: QoS)] = []
    /// QoS 0 publishes are completed by libmosquitto *inside* `mosquitto_publish` when the write
    /// succeeds at once, before the caller learns the mid; such completions wait here.
    private var earlyCompletions: [Int32: Int32] = [:]
    private var inPublishCall = false
    private var draining = false
    /// Set when the consumer's buffer reached its high-water mark; cleared by `consumerCaughtUp()`.
    private var consumerLagging = false
    /// When the socket was last read, for the keepalive read pass while reading is held back.
    private var lastRead = ContinuousClock.now
    /// The most publishes outstanding at once (tests check that publishes overlap).
    private(set) var peakOutstandingPublishes = 0

    init(id: UInt64, configuration: MQTTConfiguration, shared: ClientShared) {
        self.id = id
        self.configuration = configuration
        self.shared = shared
    }

    var socket: Int32 { mosq.map { mosquitto_socket($0) } ?? -1 }
    var wantsWrite: Bool { mosq.map { mosquitto_want_write($0) } ?? false }

    /// Whether the loop should read this client's socket.
    ///
    /// Flow control (see `MQTTMessageStream`): reading stops while the consumer lags, because
    /// libmosquitto acknowledges a QoS 1 message *before* its on_message callback runs
    /// (lib/handle_publish.c: `send__puback` then `on_message`), so once a message is read the
    /// broker has let go of it and it can only be kept or lost, never refused. Not reading leaves
    /// it unacknowledged at the broker, which then stops at its in-flight window and queues the
    /// rest. MQTT 5 receive-maximum alone would not help for the same reason: libmosquitto 2.0
    /// acknowledges on read, not when the application is done, and has no manual acknowledgement.
    ///
    /// Reading goes on while the client waits for a broker answer (PUBACK, SUBACK, UNSUBACK, or
    /// CONNACK during a reconnect): the answer sits in the socket behind the messages the broker
    /// sent first, and a consumer that publishes while handling a message would otherwise
    /// deadlock. The broker's in-flight window bounds how many messages arrive ahead of an answer.
    var wantsRead: Bool {
        !consumerLagging || phase != .connected || !publishes.isEmpty || !requests.isEmpty
    }

    // MARK: - Commands (called by MQTTClient through LoopCore.submit)

    func connect(_ continuation: CheckedContinuation<Void, any Error>) {
        switch phase {
        case .closed:
            continuation.resume(throwing: MQTTError.closed)
        case .connected:
            continuation.resume()
        case .connecting, .reconnecting:
            connectWaiters.append(continuation)
        case .waitingToReconnect:
            connectWaiters.append(continuation)
            reconnectAt = .now  // try now rather than after the backoff delay
        case .disconnecting:
            continuation.resume(throwing: MQTTError.notConnected)
        case .idle:
            if mosq == nil {
                do {
                    try createHandle()
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
            }
            connectWaiters.append(continuation)
            startAttempt(isReconnect: everConnected)
        }
    }

    func publish(_ publish: OutgoingPublish) {
        guard phase != .closed else { return publish.continuation.resume(throwing: MQTTError.closed) }
        guard phase == .connected else { return publish.continuation.resume(throwing: MQTTError.notConnected) }
        if publishes.count >= configuration.maxOutstandingPublishes || backlogHead < backlog.count {
            backlog.append(publish)
            drainBacklog()
        } else {
            send(publish)
        }
        readIfHeldBack()
    }

    func subscribe(filter: String, qos: QoS, continuation: CheckedContinuation<QoS, any Error>) {
        guard phase != .closed else { return continuation.resume(throwing: MQTTError.closed) }
        guard phase == .connected, let mosq else { return continuation.resume(throwing: MQTTError.notConnected) }
        var mid: Int32 = 0
        let rc = mosquitto_subscribe_v5(mosq, &mid, filter, Int32(qos.rawValue), 0, nil)
        let savedErrno = errno
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            return continuation.resume(throwing: MosquittoResult.error(code: rc, errno: savedErrno))
        }
        requests.insert(.subscribe(filter: filter, qos: qos, continuation: continuation), mid: mid)
        readIfHeldBack()
    }

    func unsubscribe(filter: String, continuation: CheckedContinuation<Void, any Error>) {
        guard phase != .closed else { return continuation.resume(throwing: MQTTError.closed) }
        guard phase == .connected, let mosq else { return continuation.resume(throwing: MQTTError.notConnected) }
        var mid: Int32 = 0
        let rc = mosquitto_unsubscribe_v5(mosq, &mid, filter, nil)
        let savedErrno = errno
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            return continuation.resume(throwing: MosquittoResult.error(code: rc, errno: savedErrno))
        }
        subscriptions.removeAll { $0.filter == filter }
        requests.insert(.unsubscribe(filter: filter, continuation: continuation), mid: mid)
        readIfHeldBack()
    }

    func disconnect(_ continuation: CheckedContinuation<Void, Never>) {
        switch phase {
        case .closed, .idle:
            continuation.resume()
        case .disconnecting:
            disconnectWaiters.append(continuation)
        case .waitingToReconnect:
            reconnectAt = nil
            becomeIdle(failingWith: .notConnected)
            continuation.resume()
        case .connected, .connecting, .reconnecting:
            phase = .disconnecting
            disconnectWaiters.append(continuation)
            let rc = mosq.map { mosquitto_disconnect($0) } ?? MOSQ_ERR_NO_CONN.rawValue
            if rc != MOSQ_ERR_SUCCESS.rawValue || socket < 0 {
                // Nothing to say goodbye on (or it was said synchronously and the socket is gone).
                if phase == .disconnecting { becomeIdle(failingWith: .notConnected) }
            }
        }
    }

    /// Ends the client: fails everything outstanding with `.closed` and destroys the handle, which
    /// closes the socket without a DISCONNECT (the broker then publishes the will).
    func close() {
        guard phase != .closed else { return }
        phase = .closed
        reconnectAt = nil
        failAll(with: .closed)
        for waiter in disconnectWaiters { waiter.resume() }
        disconnectWaiters.removeAll()
        if let mosq {
            mosquitto_destroy(mosq)
            self.mosq = nil
        }
        shared.finish()
    }

    /// The value of an integer socket option on the current socket, or nil without one (tests).
    func socketOption(level: Int32, name: Int32) -> Int32? {
        guard let mosq else { return nil }
        let fd = mosquitto_socket(mosq)
        guard fd >= 0 else { return nil }
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, level, name, &value, &length) == 0 ? value : nil
    }

    // MARK: - Loop hooks

    func handleIO(revents: Int16) {
        guard let mosq else { return }
        var rc = MOSQ_ERR_SUCCESS.rawValue
        if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
            // A hang-up or error is read even while held back, so the loss is noticed.
            let heldBackAllowed = revents & Int16(POLLHUP | POLLERR) == 0
            rc = read(mosq, passes: 64, stopWhenHeldBack: heldBackAllowed)
        }
        if rc == MOSQ_ERR_SUCCESS.rawValue, self.mosq != nil, mosquitto_socket(mosq) >= 0,
            revents & Int16(POLLOUT) != 0
        {
            rc = mosquitto_loop_write(mosq, 1)
        }
        afterLibraryCall(rc: rc, errno: errno)
    }

    /// Reads up to `passes` times (bounded, so one busy client cannot starve the others), stopping
    /// early when the socket is drained or, if `stopWhenHeldBack`, when the consumer lags.
    private func read(_ mosq: OpaquePointer, passes: Int, stopWhenHeldBack: Bool) -> Int32 {
        var rc = MOSQ_ERR_SUCCESS.rawValue
        lastRead = .now
        for _ in 0..<passes {
            errno = 0
            rc = mosquitto_loop_read(mosq, 1)
            let savedErrno = errno
            if rc != MOSQ_ERR_SUCCESS.rawValue || self.mosq == nil || mosquitto_socket(mosq) < 0
                || savedErrno == EAGAIN || savedErrno == EWOULDBLOCK
            {
                break
            }
            if !consumerLagging && shared.messages.buffer.pauseIfFull() { consumerLagging = true }
            if stopWhenHeldBack && !wantsRead { break }
        }
        if !consumerLagging && shared.messages.buffer.pauseIfFull() { consumerLagging = true }
        return rc
    }

    /// The consumer drained its buffer: read again, at once, because data libmosquitto or OpenSSL
    /// already buffered would not wake poll(2).
    func consumerCaughtUp() {
        consumerLagging = false
        guard let mosq, mosquitto_socket(mosq) >= 0 else { return }
        let rc = read(mosq, passes: 64, stopWhenHeldBack: true)
        afterLibraryCall(rc: rc, errno: errno)
    }

    /// After a command that waits for a broker answer while reading was held back: reading is on
    /// again (`wantsRead`), but what OpenSSL already decrypted would not wake poll(2), so read now.
    /// Only from commands, never from inside a libmosquitto callback.
    private func readIfHeldBack() {
        guard consumerLagging, let mosq, mosquitto_socket(mosq) >= 0 else { return }
        let rc = read(mosq, passes: 64, stopWhenHeldBack: true)
        afterLibraryCall(rc: rc, errno: errno)
    }

    /// Keepalive (PINGREQ, dead-broker detection) and retries inside libmosquitto.
    ///
    /// While reading is held back, one read pass every half keepalive interval: libmosquitto
    /// declares the broker dead when nothing was read for a keepalive interval after its PINGREQ,
    /// and the PINGRESP may sit behind many messages. A read packet renews that clock (and the
    /// PUBACK it sends renews the broker's), so a stalled consumer costs a few buffered messages
    /// per interval instead of the session.
    func housekeeping() {
        guard let mosq, mosquitto_socket(mosq) >= 0 else { return }
        if !wantsRead, ContinuousClock.now - lastRead >= .seconds(configuration.keepAlive) / 2 {
            let rc = read(mosq, passes: 1, stopWhenHeldBack: false)
            afterLibraryCall(rc: rc, errno: errno)
            guard self.mosq != nil, mosquitto_socket(mosq) >= 0 else { return }
        }
        let rc = mosquitto_loop_misc(mosq)
        afterLibraryCall(rc: rc, errno: errno)
    }

    func reconnectTimerFired() {
        reconnectAt = nil
        guard phase == .waitingToReconnect else { return }
        startAttempt(isReconnect: true)
    }

    /// libmosquitto normally reports a dead socket through on_disconnect; this catches the paths
    /// where it only returns an error code.
    private func afterLibraryCall(rc: Int32, errno savedErrno: Int32) {
        guard rc != MOSQ_ERR_SUCCESS.rawValue, socket < 0 else { return }
        switch phase {
        case .connecting, .connected, .reconnecting, .disconnecting:
            connectionDropped(rc: rc, errno: savedErrno)
        case .idle, .waitingToReconnect, .closed:
            break
        }
    }

    // MARK: - Connecting

    private func createHandle() throws {
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        guard let handle = mosquitto_new(configuration.clientID, configuration.cleanSession, userdata) else {
            let savedErrno = errno
            if savedErrno == EINVAL {
                throw MQTTError.invalidArgument("a client id is required when cleanSession is false")
            }
            throw MQTTError.mosquitto(
                code: Int(MOSQ_ERR_NOMEM.rawValue), message: String(cString: strerror(savedErrno)))
        }
        do {
            try configure(handle)
        } catch {
            mosquitto_destroy(handle)
            throw error
        }
        mosq = handle
    }

    private func configure(_ handle: OpaquePointer) throws {
        func check(_ rc: Int32, _ what: String) throws {
            guard rc == MOSQ_ERR_SUCCESS.rawValue else {
                let savedErrno = errno
                if rc == MOSQ_ERR_INVAL.rawValue { throw MQTTError.invalidArgument(what) }
                throw MosquittoResult.error(code: rc, errno: savedErrno)
            }
        }
        let version = configuration.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, version), "protocol version")
        // Without it, Nagle's algorithm holds a small packet (a PUBACK, a short publish) until the
        // previous one is acknowledged, which the peer's delayed ACK puts off for up to 40 ms.
        try check(
            mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, configuration.tcpNoDelay ? 1 : 0), "TCP_NODELAY")
        if configuration.username != nil || configuration.password != nil {
            try check(
                mosquitto_username_pw_set(handle, configuration.username, configuration.password), "username/password")
        }
        if let will = configuration.will {
            let rc = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set(
                    handle, will.topic, Int32(bytes.count), bytes.baseAddress, Int32(will.qos.rawValue), will.retain)
            }
            try check(rc, "will topic \(will.topic)")
        }
        if let tls = configuration.tls {
            try check(
                mosquitto_tls_set(handle, tls.caFile, nil, tls.certFile, tls.keyFile, nil),
                "TLS files (CA \(tls.caFile))")
            try check(mosquitto_tls_insecure_set(handle, !tls.verifyHostname), "TLS hostname check")
        }
        mosquitto_connect_v5_callback_set(handle) { _, userdata, rc, _, _ in
            Connection.from(userdata)?.onConnect(rc: rc)
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, userdata, rc, _ in
            let savedErrno = errno  // MOSQ_ERR_ERRNO: errno is only meaningful right now
            Connection.from(userdata)?.connectionDropped(rc: rc, errno: savedErrno)
        }
        mosquitto_publish_v5_callback_set(handle) { _, userdata, mid, reason, _ in
            Connection.from(userdata)?.onPublish(mid: mid, reasonCode: reason)
        }
        mosquitto_message_v5_callback_set(handle) { _, userdata, message, _ in
            guard let message else { return }
            Connection.from(userdata)?.onMessage(message)
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, userdata, mid, count, granted, _ in
            let first = (count > 0 && granted != nil) ? granted![0] : 0x80
            Connection.from(userdata)?.onSubscribe(mid: mid, granted: first)
        }
        mosquitto_unsubscribe_v5_callback_set(handle) { _, userdata, mid, _ in
            Connection.from(userdata)?.onUnsubscribe(mid: mid)
        }
    }

    private static func from(_ userdata: UnsafeMutableRawPointer?) -> Connection? {
        guard let userdata else { return nil }
        return Unmanaged<Connection>.fromOpaque(userdata).takeUnretainedValue()
    }

    private func startAttempt(isReconnect: Bool) {
        guard let mosq else { return }
        phase = isReconnect ? .reconnecting : .connecting
        shared.setState(isReconnect ? .reconnecting : .connecting)
        connackError = nil
        let host = configuration.unixSocketPath ?? configuration.host
        let port = configuration.unixSocketPath == nil ? Int32(configuration.port) : 0
        let keepAlive = Int32(configuration.keepAlive)
        // Non-blocking connect, also for TLS (the handshake then proceeds inside loop_read /
        // loop_write), so a slow or dead broker never stalls the other clients on this loop.
        // Only name resolution blocks: use IP literals.
        let rc =
            isReconnect
            ? mosquitto_reconnect_async(mosq)
            : mosquitto_connect_bind_async(mosq, host, port, keepAlive, nil)
        let savedErrno = errno
        if rc != MOSQ_ERR_SUCCESS.rawValue {
            let error: MQTTError =
                rc == MOSQ_ERR_INVAL.rawValue
                ? .invalidArgument("connection parameters for \(configuration.address) (keepAlive must be ≥ 5)")
                : .unreachable("\(configuration.address): \(MosquittoResult.message(code: rc, errno: savedErrno))")
            attemptFailed(error)
        }
    }

    private func attemptFailed(_ error: MQTTError) {
        if case .invalidArgument = error {
            becomeIdle(failingWith: error)
        } else if phase == .reconnecting && configuration.reconnect.enabled {
            scheduleReconnect()
        } else {
            becomeIdle(failingWith: error)
        }
    }

    private func scheduleReconnect() {
        let base = configuration.reconnect.delay(forAttempt: reconnectAttempt)
        reconnectAttempt += 1
        let jittered = base * Double.random(in: 0.8...1.2)
        phase = .waitingToReconnect
        reconnectAt = .now + jittered
        shared.setState(.reconnecting)
    }

    /// Back to `.idle`: no connection, nothing scheduled; everything waiting fails with `error`.
    private func becomeIdle(failingWith error: MQTTError) {
        phase = .idle
        reconnectAt = nil
        shared.setState(.disconnected)  // before resuming anyone, so callers see the new state
        failAll(with: error)
        for waiter in disconnectWaiters { waiter.resume() }
        disconnectWaiters.removeAll()
    }

    private func failAll(with error: MQTTError) {
        let waiters = connectWaiters
        connectWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: error) }
        for publish in publishes.removeAll() { publish.continuation.resume(throwing: error) }
        failBacklog(with: error)
        for request in requests.removeAll() { fail(request, with: error) }
        earlyCompletions.removeAll()
    }

    private func failBacklog(with error: MQTTError) {
        let waiting = backlog[backlogHead...]
        backlog.removeAll()
        backlogHead = 0
        for publish in waiting { publish.continuation.resume(throwing: error) }
    }

    private func fail(_ request: PendingRequest, with error: MQTTError) {
        switch request {
        case .subscribe(_, _, let continuation): continuation?.resume(throwing: error)
        case .unsubscribe(_, let continuation): continuation.resume(throwing: error)
        }
    }

    // MARK: - libmosquitto callbacks (loop thread, inside libmosquitto calls)

    private func onConnect(rc: Int32) {
        guard phase == .connecting || phase == .reconnecting else { return }
        guard rc == 0 else {
            connackError = MosquittoResult.connackError(rc, sentUsername: configuration.username != nil)
            return  // libmosquitto closes the socket next; connectionDropped reports it
        }
        phase = .connected
        everConnected = true
        reconnectAttempt = 0
        if let mosq {
            for subscription in subscriptions {
                var mid: Int32 = 0
                let result = mosquitto_subscribe_v5(
                    mosq, &mid, subscription.filter, Int32(subscription.qos.rawValue), 0, nil)
                if result == MOSQ_ERR_SUCCESS.rawValue {
                    requests.insert(
                        .subscribe(filter: subscription.filter, qos: subscription.qos, continuation: nil), mid: mid)
                }
            }
        }
        shared.setState(.connected)
        let waiters = connectWaiters
        connectWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
        drainBacklog()
    }

    private func connectionDropped(rc: Int32, errno savedErrno: Int32) {
        switch phase {
        case .closed, .idle, .waitingToReconnect:
            return
        case .disconnecting:
            becomeIdle(failingWith: .notConnected)
        case .connecting:
            let error =
                connackError
                ?? .unreachable("\(configuration.address): \(MosquittoResult.message(code: rc, errno: savedErrno))")
            becomeIdle(failingWith: error)
        case .reconnecting:
            if configuration.reconnect.enabled {
                scheduleReconnect()
            } else {
                becomeIdle(failingWith: connackError ?? .notConnected)
            }
        case .connected:
            guard configuration.reconnect.enabled else { return becomeIdle(failingWith: .notConnected) }
            // QoS 1/2 publishes stay: libmosquitto resends them after the reconnect and completes
            // them then. QoS 0 ones, queued publishes and SUBSCRIBE/UNSUBSCRIBE are not resent.
            for publish in publishes.removeAll(where: { $0.qos == .atMostOnce }) {
                publish.continuation.resume(throwing: MQTTError.notConnected)
            }
            failBacklog(with: .notConnected)
            for request in requests.removeAll() { fail(request, with: .notConnected) }
            scheduleReconnect()
        }
    }

    private func onPublish(mid: Int32, reasonCode: Int32) {
        guard let publish = publishes.complete(mid: mid) else {
            if inPublishCall { earlyCompletions[mid] = reasonCode }
            return
        }
        finish(publish, reasonCode: reasonCode)
        if !inPublishCall { drainBacklog() }  // never publish from inside mosquitto_publish
    }

    private func finish(_ publish: OutgoingPublish, reasonCode: Int32) {
        if reasonCode >= 0x80 {
            publish.continuation.resume(throwing: MQTTError.publishRejected(reasonCode: Int(reasonCode)))
        } else {
            publish.continuation.resume()
        }
    }

    private func onMessage(_ message: UnsafePointer<mosquitto_message>) {
        // libmosquitto frees the message when this callback returns: copy everything now.
        let raw = message.pointee
        let topic = raw.topic.map { String(cString: $0) } ?? ""
        var payload: [UInt8] = []
        if let bytes = raw.payload, raw.payloadlen > 0 {
            payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(raw.payloadlen)))
        }
        shared.messages.buffer.deliver(
            MQTTMessage(
                topic: topic, payload: payload, qos: QoS(rawValue: Int(raw.qos)) ?? .atMostOnce, retain: raw.retain))
    }

    private func onSubscribe(mid: Int32, granted: Int32) {
        guard let request = requests.complete(mid: mid),
            case .subscribe(let filter, let qos, let continuation) = request
        else { return }
        if granted >= 0x80 || granted < 0 {
            subscriptions.removeAll { $0.filter == filter }
            continuation?.resume(throwing: MQTTError.subscriptionRefused(filter: filter))
            return
        }
        if !subscriptions.contains(where: { $0.filter == filter }) {
            subscriptions.append((filter, qos))
        }
        continuation?.resume(returning: QoS(rawValue: Int(granted)) ?? qos)
    }

    private func onUnsubscribe(mid: Int32) {
        guard let request = requests.complete(mid: mid), case .unsubscribe(_, let continuation) = request else {
            return
        }
        continuation.resume()
    }

    // MARK: - Publishing

    private func send(_ publish: OutgoingPublish) {
        guard let mosq else { return publish.continuation.resume(throwing: MQTTError.notConnected) }
        var mid: Int32 = 0
        inPublishCall = true
        let rc = publish.payload.withUnsafeBytes { bytes in
            mosquitto_publish_v5(
                mosq, &mid, publish.topic, Int32(bytes.count), bytes.baseAddress, Int32(publish.qos.rawValue),
                publish.retain, nil)
        }
        let savedErrno = errno
        inPublishCall = false
        guard rc == MOSQ_ERR_SUCCESS.rawValue else {
            earlyCompletions.removeValue(forKey: mid)
            return publish.continuation.resume(throwing: MosquittoResult.publishError(code: rc, errno: savedErrno))
        }
        if let reasonCode = earlyCompletions.removeValue(forKey: mid) {
            finish(publish, reasonCode: reasonCode)
        } else {
            publishes.insert(publish, mid: mid)
            peakOutstandingPublishes = max(peakOutstandingPublishes, publishes.count)
        }
    }

    private func drainBacklog() {
        guard !draining else { return }
        draining = true
        defer { draining = false }
        while phase == .connected, backlogHead < backlog.count,
            publishes.count < configuration.maxOutstandingPublishes
        {
            let next = backlog[backlogHead]
            backlogHead += 1
            send(next)
        }
        if backlogHead == backlog.count {
            backlog.removeAll(keepingCapacity: true)
            backlogHead = 0
        } else if backlogHead > 4096 {
            backlog.removeFirst(backlogHead)
            backlogHead = 0
        }
    }
}
