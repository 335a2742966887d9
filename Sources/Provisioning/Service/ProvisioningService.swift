import Crypto
import FleetProtocol
import Foundation
import Logging
import MQTT
import ServiceLifecycle
import UnixSignals

/// The I/O shell of provisiond: one MQTT connection, messages decoded into ``EngineEvent``s for the
/// engine, its actions published.
///
/// Several instances may run against one broker and one registry when `sharedGroup` is set: the
/// subscriptions then become `$share/<group>/…` so each hello, status and request reaches exactly one
/// instance. Without it, every instance would handle every message (harmless for correctness because
/// seqs come from registry transactions, but wasteful and noisy). The service status topic is one per
/// prefix, so with several instances it shows the last one that changed state.
public struct ProvisioningService: Service {
    public struct Configuration: Sendable {
        public var mqtt: MQTTConfiguration
        public var prefix: String
        public var sharedGroup: String?
        public var version: String
        /// Create and delete device accounts through the broker's dynamic security plugin
        /// (`$CONTROL/dynamic-security/v1`). Off for a development broker without the plugin.
        public var manageBrokerAccounts: Bool

        public init(
            mqtt: MQTTConfiguration, prefix: String, sharedGroup: String? = nil, version: String = "0.1.0",
            manageBrokerAccounts: Bool = false
        ) {
            self.mqtt = mqtt
            self.prefix = prefix
            self.sharedGroup = sharedGroup
            self.version = version
            self.manageBrokerAccounts = manageBrokerAccounts
        }
    }

    private let configuration: Configuration
    private let engine: ProvisioningEngine
    private let identity: ServiceIdentity
    private let topics: TopicTree
    private let logger: Logger
    private let removals = AccountRemovals()
    /// Unacknowledged publishes at most; beyond it provisiond stops taking new work.
    private let window = PublishWindow(limit: 1024)
    /// The most device messages decided on in one group commit.
    static let batchLimit = 512

    public init(configuration: Configuration, engine: ProvisioningEngine, identity: ServiceIdentity, logger: Logger)
        throws
    {
        self.configuration = configuration
        self.engine = engine
        self.identity = identity
        self.topics = try TopicTree(prefix: configuration.prefix)
        self.logger = logger
    }

    /// The MQTT configuration with the service's will (status offline, retained) filled in.
    public static func mqttConfiguration(
        _ base: MQTTConfiguration, prefix: String, identity: ServiceIdentity, version: String
    ) throws -> MQTTConfiguration {
        var configuration = base
        let topics = try TopicTree(prefix: prefix)
        configuration.will = MQTTWill(
            topic: topics.serviceStatus, payload: try identity.statusPayload(online: false, version: version),
            qos: .atLeastOnce, retain: true)
        return configuration
    }

    /// A client id no other account can guess: `provisiond-` and 128 random bits in hex.
    ///
    /// mosquitto 2.0 lets any authenticated client take over any client id, and dynsec cannot
    /// reserve an id for one account, so a fixed id would let every account knock provisiond off the
    /// broker and flip its retained status to its will (`offline`).
    public static func randomClientID() -> String {
        let bits = SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }
        return "provisiond-" + bits.map { String(format: "%02x", $0) }.joined()
    }

    /// How long after SIGTERM the service waits for what it is doing (a publish waiting for its
    /// acknowledgement, the first connect) before it closes the connection, failing them.
    static let shutdownGrace: Duration = .seconds(5)

    /// The configuration of the second connection, which serves operator requests only: the broker
    /// queues messages per client, so a request never waits behind a flood of hellos queued for the
    /// first one. Its client id is the service's with `-ops` (as unguessable); no will (the service
    /// status belongs to the first connection).
    static func operatorConfiguration(_ main: MQTTConfiguration) -> MQTTConfiguration {
        var configuration = main
        configuration.clientID = main.clientID + "-ops"
        configuration.will = nil
        return configuration
    }

    public func run() async throws {
        let client = MQTTClient(configuration.mqtt)
        let operators = MQTTClient(Self.operatorConfiguration(configuration.mqtt))
        defer {
            client.close()
            operators.close()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // A broker that stopped answering (or refuses every reconnect) leaves a publish or
                // the first connect waiting forever, and neither is cancellable: closing the client
                // fails them, so SIGTERM stops provisiond within seconds in every state.
                do {
                    try await gracefulShutdown()
                    try await Task.sleep(for: Self.shutdownGrace)
                } catch {
                    return  // cancelled: `serve` finished first
                }
                logger.warning("the broker did not let provisiond finish in time; closing the connection")
                client.close()
                operators.close()
            }
            group.addTask {
                do {
                    try await serve(client, operators: operators)
                } catch  where Task.isShuttingDownGracefully {
                    logger.info("provisiond stopped before it finished starting", metadata: ["error": "\(error)"])
                }
            }
            // The first to finish is `serve`, or the watchdog, after which `serve` ends at once.
            _ = try await group.next()
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    private func serve(_ client: MQTTClient, operators: MQTTClient) async throws {
        try await client.connect()
        try await operators.connect()
        try await subscribe(client, operators: operators)
        try await announce(client)
        // Created after the first setup, so it starts with `connected` and only a later reconnect
        // triggers another setup.
        let states = client.stateUpdates()
        logger.info(
            "provisiond online",
            metadata: [
                "prefix": "\(configuration.prefix)", "kid": "\(identity.fingerprint)",
                "client": "\(configuration.mqtt.clientID)",
            ])

        let messages = client.messages
        let requests = operators.messages
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // After the client reconnected by itself (it subscribes again on its own, once):
                    // say online again and republish unacknowledged configs (the broker may have
                    // restarted without them).
                    var wasConnected = true
                    for await state in states {
                        if case .connected = state, !wasConnected {
                            do {
                                for device in await removals.waitingDevices() {
                                    try await client.publish(
                                        DynSecCommands.controlTopic, payload: DynSecCommands.checkAccount(device),
                                        qos: .atLeastOnce)
                                }
                                try await announce(client)
                                logger.notice("reconnected to the broker; status and retained configs restored")
                            } catch {
                                logger.error("setup after reconnect failed", metadata: ["error": "\(error)"])
                            }
                        }
                        if case .connected = state { wasConnected = true } else { wasConnected = false }
                        if case .closed = state { break }
                    }
                }
                group.addTask { await expirePendingPeriodically() }
                // Broker account answers (and anything else that is not a hello or status) have
                // their own task; operator requests come on their own connection.
                let (others, otherQueue) = AsyncStream.makeStream(of: MQTTMessage.self)
                group.addTask {
                    for await message in others {
                        await handle(message, client: client)
                    }
                }
                group.addTask {
                    await cancelWhenGracefulShutdown {
                        var iterator = messages.makeAsyncIterator()
                        while let batch = await iterator.next(upTo: Self.batchLimit) {
                            await handleDeviceMessages(batch, otherwise: otherQueue, client: client)
                        }
                    }
                    otherQueue.finish()
                }
                group.addTask {
                    for await message in requests.cancelOnGracefulShutdown() {
                        await handle(message, client: operators)
                    }
                }
                await group.next()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            logger.info("shutting down")
        }
        // Bounded: with the broker gone the publish would wait for a reconnect that never comes.
        let offline = try identity.statusPayload(online: false, version: configuration.version)
        let published = await withTaskGroup(of: Bool.self) { group in
            group.addTask { [topics, window] in
                await window.drain()
                return
                    (try? await client.publish(
                        topics.serviceStatus, payload: offline, qos: .atLeastOnce, retain: true)) != nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(3))
                return false
            }
            let first = await group.next() ?? false
            // A publish still waiting for its PUBACK does not end on cancellation; closing fails it.
            if !first { client.close() }
            group.cancelAll()
            return first
        }
        if published {
            await operators.disconnect()
            await client.disconnect()
        } else {
            logger.warning("could not publish the offline status in time; the broker publishes the will")
        }
        logger.info("provisiond stopped")
    }

    /// Runs this service in a `ServiceGroup` that shuts it down gracefully on SIGTERM and SIGINT.
    public func runUntilSignalled() async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: self)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Forgets pending devices past the age limit, checking every quarter of it (at most every minute).
    private func expirePendingPeriodically() async {
        let interval = min(60, max(1, engine.core.pendingLimits.maxAge / 4))
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(interval))
            var removed = 0
            do {
                while !Task.isCancelled {
                    let batch = try await engine.expireStalePending()
                    removed += batch
                    if batch < StateScope.staleBatch { break }
                }
            } catch {
                logger.error("could not expire pending devices", metadata: ["error": "\(error)"])
            }
            if removed > 0 {
                logger.notice("forgot pending devices past the age limit", metadata: ["count": "\(removed)"])
            }
        }
    }

    private func filter(_ filter: String) -> String {
        guard let group = configuration.sharedGroup else { return filter }
        return "$share/\(group)/\(filter)"
    }

    /// Subscribes once per run: `MQTTClient` replays its subscriptions after every reconnect, and a
    /// second SUBSCRIBE would make the broker deliver every retained message again. Operator
    /// requests arrive on their own connection (``operatorConfiguration(_:)``).
    private func subscribe(_ client: MQTTClient, operators: MQTTClient) async throws {
        for topic in [topics.helloFilter, topics.statusFilter] {
            _ = try await client.subscribe(filter(topic), qos: .atLeastOnce)
        }
        _ = try await operators.subscribe(filter(topics.opsRequestFilter), qos: .atLeastOnce)
        if configuration.manageBrokerAccounts {
            _ = try await client.subscribe(DynSecCommands.responseTopic, qos: .atLeastOnce)
        }
    }

    /// Publishes the retained public key and online status, and reconciles.
    private func announce(_ client: MQTTClient) async throws {
        try await client.publish(
            topics.servicePublicKey, payload: try identity.publicKeyPayload(), qos: .atLeastOnce, retain: true)
        try await client.publish(
            topics.serviceStatus, payload: try identity.statusPayload(online: true, version: configuration.version),
            qos: .atLeastOnce, retain: true)
        let actions = try await engine.handle(.connected)
        if !actions.isEmpty {
            logger.info("reconciling unacknowledged configs", metadata: ["count": "\(actions.count)"])
        }
        await perform(actions, client: client)
    }

    /// Decides on the hellos and statuses of `batch` in one group commit and publishes what they
    /// ask for; every other message goes to `others`, in order.
    private func handleDeviceMessages(
        _ batch: [MQTTMessage], otherwise others: AsyncStream<MQTTMessage>.Continuation, client: MQTTClient
    ) async {
        var events: [EngineEvent] = []
        var sources: [String] = []
        for message in batch {
            guard message.topic != DynSecCommands.responseTopic, let route = topics.route(message.topic) else {
                others.yield(message)
                continue
            }
            switch route {
            case .hello(let id):
                guard !message.payload.isEmpty else { continue }
                if message.retain {
                    await clearRetained(message.topic, client: client)
                    continue
                }
                guard let event = WireDecoding.hello(message.payload, topicDevice: id, logger: logger) else { continue }
                events.append(event)
                sources.append(message.topic)
            case .status(let id):
                guard
                    let event = WireDecoding.status(
                        message.payload, topicDevice: id, retained: message.retain, logger: logger)
                else { continue }
                events.append(event)
                sources.append(message.topic)
            default:
                others.yield(message)
            }
        }
        guard !events.isEmpty else { return }
        let results: [Result<[EngineAction], any Error>]
        let started = ContinuousClock.now
        defer {
            logger.debug(
                "device messages handled",
                metadata: ["count": "\(events.count)", "elapsed": "\(ContinuousClock.now - started)"])
        }
        do {
            results = try await engine.handle(batch: events)
        } catch {
            logger.error(
                "failed to handle device messages", metadata: ["count": "\(events.count)", "error": "\(error)"])
            return
        }
        for (topic, result) in zip(sources, results) {
            switch result {
            case .success(let actions): await perform(actions, client: client)
            case .failure(let error):
                logger.error("failed to handle message", metadata: ["topic": "\(topic)", "error": "\(error)"])
            }
        }
    }

    private func handle(_ message: MQTTMessage, client: MQTTClient) async {
        if message.topic == DynSecCommands.responseTopic {
            await handleBrokerAccountResponses(message.payload, client: client)
            return
        }
        guard let route = topics.route(message.topic) else { return }
        do {
            switch route {
            case .hello, .opsRequest:
                // Hellos and requests are live messages (Topics.md: not retained). A retained one was
                // planted, would be handled again on every subscribe and occupies broker memory: it is
                // ignored and cleared. The empty message that clears it comes back and is ignored too.
                guard !message.payload.isEmpty else { return }
                if message.retain {
                    await clearRetained(message.topic, client: client)
                    return
                }
            default:
                break
            }
            switch route {
            case .hello(let id):
                guard let event = WireDecoding.hello(message.payload, topicDevice: id, logger: logger) else { return }
                await perform(try await engine.handle(event), client: client)
            case .status(let id):
                guard
                    let event = WireDecoding.status(
                        message.payload, topicDevice: id, retained: message.retain, logger: logger)
                else { return }
                await perform(try await engine.handle(event), client: client)
            case .opsRequest(let operatorName):
                let actions = try await engine.handle(.operatorRequest(payload: message.payload, from: operatorName))
                if actions.isEmpty {
                    logger.warning(
                        "dropped an operator request without a valid id", metadata: ["operator": "\(operatorName)"])
                }
                await perform(actions, client: client)
            default:
                return
            }
        } catch {
            logger.error("failed to handle message", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
        }
    }

    /// Deletes a retained message the protocol never retains (an empty retained publish).
    private func clearRetained(_ topic: String, client: MQTTClient) async {
        logger.warning("ignored and cleared a retained message on a live-only topic", metadata: ["topic": "\(topic)"])
        do {
            try await client.publish(topic, payload: [], qos: .atLeastOnce, retain: true)
        } catch {
            logger.error("could not clear a retained message", metadata: ["topic": "\(topic)", "error": "\(error)"])
        }
    }

    /// Queues a QoS 1 publish within the window and returns without waiting for its PUBACK; a
    /// failure (refused by the broker, connection lost) is logged, never retried here. Configs that
    /// were not acknowledged are published again by the reconciliation after a reconnect.
    private func send(_ topic: String, _ payload: [UInt8], retain: Bool, kind: String, client: MQTTClient) async {
        await window.acquire()
        client.publish(topic, payload: payload, qos: .atLeastOnce, retain: retain) {
            [window, logger] result in
            window.release()
            if case .failure(let error) = result {
                logger.error(
                    "publish failed", metadata: ["action": "\(kind)", "topic": "\(topic)", "error": "\(error)"])
            }
        }
    }

    private func perform(_ actions: [EngineAction], client: MQTTClient) async {
        for action in actions {
            do {
                switch action {
                case .publishConfig(let device, let payload):
                    await send(topics.config(device), payload, retain: true, kind: action.kind, client: client)
                    logger.info("config queued", metadata: ["device": "\(device)"])
                case .clearConfig(let device):
                    await send(topics.config(device), [], retain: true, kind: action.kind, client: client)
                case .publishEvent(let record):
                    logger.info(
                        "\(record.type.rawValue)",
                        metadata: [
                            "device": "\(record.device ?? "-")", "seq": "\(record.seq.map(String.init) ?? "-")",
                            "detail": "\(record.detail ?? "")",
                        ])
                    await send(
                        topics.events, try record.eventPayload(), retain: false, kind: action.kind, client: client)
                case .reply(let topic, let payload):
                    await send(topic, payload, retain: false, kind: action.kind, client: client)
                case .registerBrokerAccount(let device, let publicKey):
                    guard configuration.manageBrokerAccounts else { continue }
                    let password = try BrokerCredentials.password(
                        device: device, servicePrivateKey: identity.privateKey,
                        devicePublicKey: Curve25519.KeyAgreement.PublicKey(rawRepresentation: publicKey))
                    let command = try DynSecCommands.registerDevice(device, password: password, topics: topics)
                    if await removals.deferRegistration(of: device, command) { continue }
                    try await client.publish(DynSecCommands.controlTopic, payload: command, qos: .atLeastOnce)
                    logger.info("broker account requested", metadata: ["device": "\(device)"])
                case .removeBrokerAccount(let device):
                    guard configuration.manageBrokerAccounts else { continue }
                    // Deleted only once the plugin shows the account is provisiond's own.
                    await removals.begin(device)
                    try await client.publish(
                        DynSecCommands.controlTopic, payload: DynSecCommands.checkAccount(device), qos: .atLeastOnce)
                }
            } catch {
                logger.error("publish failed", metadata: ["action": "\(action.kind)", "error": "\(error)"])
            }
        }
    }
}

extension ProvisioningService {
    /// Finishes the removals whose ownership check is answered and logs the outcome of account
    /// commands; failures are errors an operator must see.
    fileprivate func handleBrokerAccountResponses(_ payload: [UInt8], client: MQTTClient) async {
        guard let responses = try? DynSecCommands.parseResponses(payload) else {
            logger.warning("unreadable dynamic-security response")
            return
        }
        for response in responses {
            guard let device = DynSecCommands.checkedAccount(in: response) else { continue }
            guard let registration = await removals.finish(device) else { continue }
            var commands: [[UInt8]] = []
            if let account = response.data?.client, !DynSecCommands.isDeviceAccount(account, of: device) {
                logger.error(
                    "refused to delete broker account: provisiond did not create it",
                    metadata: ["device": "\(device)", "textname": "\(account.textname ?? "-")"])
            } else {
                commands.append(DynSecCommands.removeDevice(device))
                if let registration { commands.append(registration) }
            }
            for command in commands {
                do {
                    try await client.publish(DynSecCommands.controlTopic, payload: command, qos: .atLeastOnce)
                } catch {
                    logger.error("publish failed", metadata: ["action": "account", "error": "\(error)"])
                }
            }
            if !commands.isEmpty {
                logger.info("broker account removal requested", metadata: ["device": "\(device)"])
            }
        }
        for response in responses {
            if let problem = DynSecCommands.problem(in: response) {
                logger.error(
                    "broker account command failed",
                    metadata: [
                        "command": "\(response.command)", "error": "\(problem)",
                        "correlation": "\(response.correlationData ?? "-")",
                    ])
            } else if let error = response.error {
                logger.debug(
                    "broker account command answered harmlessly",
                    metadata: ["command": "\(response.command)", "error": "\(error)"])
            }
        }
    }
}

extension ProvisioningService: CustomStringConvertible {
    /// What ServiceLifecycle logs about this service: no key material, no configuration dump.
    public var description: String {
        "ProvisioningService(prefix: \(configuration.prefix), kid: \(identity.fingerprint))"
    }
}

extension EngineAction {
    var kind: String {
        switch self {
        case .publishConfig: "config"
        case .clearConfig: "clear"
        case .publishEvent: "event"
        case .reply: "reply"
        case .registerBrokerAccount: "register account"
        case .removeBrokerAccount: "remove account"
        }
    }
}
