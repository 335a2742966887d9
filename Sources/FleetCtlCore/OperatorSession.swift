import FleetProtocol
import Foundation
import MQTT

/// How fleetctl reaches the broker. The password never comes from argv.
public struct ConnectionOptions: Sendable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var prefix: String
    /// The site CA (`DIR/certs/ca.crt`): connect with TLS and check the broker's certificate against
    /// it, host name included. Nil: plain MQTT (the loopback listener only).
    public var caFile: String?
    /// The site every request is addressed to (`--site`): a provisiond serving another site refuses
    /// it with `wrong_site` instead of acting on the wrong fleet. Nil: whichever site answers.
    public var site: String?

    public init(
        host: String, port: Int, username: String, password: String?, prefix: String, caFile: String? = nil,
        site: String? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.prefix = prefix
        self.caFile = caFile
        self.site = site
    }
}

/// One broker connection of an operator: requests with correlation ids, replies routed back to them,
/// and the other messages (statuses, events) as a stream.
public final class OperatorSession: Sendable {
    public let topics: TopicTree
    public let operatorName: String
    /// The site requests are addressed to, if any.
    public let site: String?
    private let client: MQTTClient
    private let router: ReplyRouter
    private let pump: Task<Void, Never>

    private init(client: MQTTClient, topics: TopicTree, operatorName: String, site: String?, router: ReplyRouter) {
        self.client = client
        self.site = site
        self.topics = topics
        self.operatorName = operatorName
        self.router = router
        let messages = client.messages
        pump = Task {
            for await message in messages {
                await router.deliver(message)
            }
            await router.closeAll()
        }
    }

    /// Connects and subscribes to this operator's reply topics.
    public static func connect(_ options: ConnectionOptions) async throws(FleetCtlError) -> OperatorSession {
        let topics: TopicTree
        do {
            topics = try TopicTree(prefix: options.prefix)
        } catch {
            throw FleetCtlError(.invalidInput, "invalid --prefix '\(options.prefix)': \(error)")
        }
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let configuration = MQTTConfiguration(
            host: options.host, port: options.port, clientID: "fleetctl-\(options.username)-\(suffix)",
            username: options.username, password: options.password,
            // MQTT v5: a refused request fails at once with the broker's reason code.
            protocolVersion: .v5, tls: options.caFile.map { MQTTTLSOptions(caFile: $0) })
        let client = MQTTClient(configuration)
        let replies: String
        do {
            replies = try topics.opsReplyFilter(operator: options.username)
        } catch {
            throw FleetCtlError(
                .invalidInput, "invalid --username '\(options.username)' (it is the operator name): \(error.message)")
        }
        let session = OperatorSession(
            client: client, topics: topics, operatorName: options.username, site: options.site,
            router: ReplyRouter(topics: topics))
        do {
            try await client.connect()
            _ = try await client.subscribe(replies)
        } catch {
            await session.close()
            throw FleetCtlError(.broker, "cannot connect to the broker at \(options.host):\(options.port): \(error)")
        }
        return session
    }

    /// A fresh correlation id (16 hex digits). Secrets sealed for a request are bound to it.
    public static func newCorrelation() -> String {
        let n = UInt64.random(in: 0...UInt64.max)
        let hex = String(n, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Sends one request and waits for its final reply.
    /// - Throws: ``OperatorError`` when provisiond refused it, ``FleetCtlError`` on timeout or I/O.
    public func request<Result: Decodable>(
        _ op: OperatorOp, _ args: some Encodable, as type: Result.Type, timeout: Duration = .seconds(15),
        correlation: String = OperatorSession.newCorrelation()
    ) async throws -> Result {
        let replyTo = try topics.opsReply(operator: operatorName, correlation: correlation)
        let payload = try MessageCodec.encode(
            OperatorRequest(id: correlation, op: op, replyTo: replyTo, arguments: args, site: site))
        let waiter = await router.expect(topic: replyTo)
        do {
            // Our own request topic: the broker lets only this operator publish there, which is how
            // provisiond knows who asks.
            try await client.publish(try topics.opsRequest(operator: operatorName), payload: payload, qos: .atLeastOnce)
        } catch {
            await router.cancel(topic: replyTo)
            throw FleetCtlError(.broker, "cannot publish the request: \(error)")
        }
        let timer = Task { [router] in
            try? await Task.sleep(for: timeout)
            await router.cancel(topic: replyTo)
        }
        defer { timer.cancel() }
        guard let bytes = await waiter.value else {
            throw FleetCtlError(
                .noReply,
                "no reply from provisiond within \(timeout.components.seconds) s: is it running on this broker and prefix?"
            )
        }
        let reply: OperatorReply
        do {
            reply = try MessageCodec.decode(OperatorReply.self, from: bytes)
        } catch {
            throw FleetCtlError(.badReply, "unreadable reply from provisiond: \(error)")
        }
        do {
            return try reply.decodeResult(Result.self)
        } catch let error as OperatorError {
            throw error
        } catch {
            throw FleetCtlError(.badReply, "unreadable result from provisiond: \(error)")
        }
    }

    /// Subscribes to `filter` and streams everything that is not a reply.
    public func subscribe(_ filter: String) async throws(FleetCtlError) -> AsyncStream<MQTTMessage> {
        let stream = await router.observe(filter: filter)
        do {
            _ = try await client.subscribe(filter)
        } catch {
            throw FleetCtlError(.broker, "cannot subscribe to \(filter): \(error)")
        }
        return stream
    }

    /// Device statuses, decoded; unreadable ones are skipped.
    public func statuses() async throws(FleetCtlError) -> AsyncStream<DeviceStatus> {
        let messages = try await subscribe(topics.statusFilter)
        return AsyncStream { continuation in
            let task = Task {
                for await message in messages {
                    guard let status = try? MessageCodec.decode(DeviceStatus.self, from: message.payload) else {
                        continue
                    }
                    continuation.yield(status)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// `fleetctl watch`: audit events, device statuses and the service status as `topic payload`
    /// lines, until the connection ends.
    public func watch() async throws(FleetCtlError) -> AsyncStream<String> {
        let streams = [
            try await subscribe(topics.events), try await subscribe(topics.statusFilter),
            try await subscribe(topics.serviceStatus),
        ]
        return AsyncStream { continuation in
            let task = Task {
                await withTaskGroup(of: Void.self) { group in
                    for stream in streams {
                        group.addTask {
                            for await message in stream {
                                continuation.yield(
                                    "\(message.topic) \(String(decoding: message.payload, as: UTF8.self))")
                            }
                        }
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func close() async {
        await client.disconnect()
        client.close()
        pump.cancel()
        await router.closeAll()
    }
}

/// Routes incoming messages: replies to their waiting request, the rest to observers.
actor ReplyRouter {
    private let topics: TopicTree
    private var waiting: [String: CheckedContinuation<[UInt8]?, Never>] = [:]
    private var early: [String: [UInt8]] = [:]
    private var cancelled: Set<String> = []
    private var observers: [(filter: String, continuation: AsyncStream<MQTTMessage>.Continuation)] = []

    init(topics: TopicTree) { self.topics = topics }

    /// A task that finishes with the reply payload, or nil when cancelled.
    func expect(topic: String) -> Task<[UInt8]?, Never> {
        Task { await self.wait(topic: topic) }
    }

    private func wait(topic: String) async -> [UInt8]? {
        if let payload = early.removeValue(forKey: topic) { return payload }
        if cancelled.remove(topic) != nil { return nil }
        return await withCheckedContinuation { continuation in
            waiting[topic] = continuation
        }
    }

    func cancel(topic: String) {
        if let continuation = waiting.removeValue(forKey: topic) {
            continuation.resume(returning: nil)
        } else if early[topic] == nil {
            cancelled.insert(topic)
        }
    }

    func observe(filter: String) -> AsyncStream<MQTTMessage> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: MQTTMessage.self, bufferingPolicy: .bufferingNewest(4096))
        observers.append((filter, continuation))
        return stream
    }

    func deliver(_ message: MQTTMessage) {
        if case .opsReply = topics.route(message.topic) {
            if let continuation = waiting.removeValue(forKey: message.topic) {
                continuation.resume(returning: message.payload)
            } else {
                early[message.topic] = message.payload
            }
            return
        }
        for observer in observers where MQTTTopic.matches(filter: observer.filter, topic: message.topic) {
            observer.continuation.yield(message)
        }
    }

    func closeAll() {
        for continuation in waiting.values { continuation.resume(returning: nil) }
        waiting.removeAll()
        for observer in observers { observer.continuation.finish() }
        observers.removeAll()
    }
}
