import Crypto
import FleetProtocol
import Foundation
import MQTT
import Synchronization

/// What a simulated device did, reported to its owner as it happens (the benchmark's clock).
public enum SimulationEvent: Sendable, Hashable {
    /// An envelope arrived and opened (real HPKE, pinned service key, replay check).
    case configReceived(seq: UInt64)
    /// The device published status `applied` for `seq`.
    case applied(seq: UInt64)
    /// The device published status `failed` (an envelope it could not open or use).
    case failed
    /// The device applied a reset envelope.
    case reset(seq: UInt64)
}

/// A device agent written in Swift for tests and the benchmark: says hello, opens its envelopes with
/// FleetProtocol (pinned service key, replay check) and reports statuses, like the C agent does.
///
/// Its MQTT client runs on the MQTT module's shared event loop unless another loop is given, so
/// thousands of devices cost a few file descriptors each, not a thread each.
public final class SimulatedDevice: Sendable {
    public let id: String
    public let key: Curve25519.KeyAgreement.PrivateKey
    public let servicePublicKey: Curve25519.KeyAgreement.PublicKey
    private let deviceID: DeviceID
    private let topics = try! TopicTree(prefix: "bootstrap")
    private let client: MQTTClient
    private let state = DeviceState()
    private let loop = Mutex<Task<Void, Never>?>(nil)
    private let onEvent: @Sendable (SimulationEvent) -> Void
    /// The client reconnects by itself: a status publish refused while it is away is tried again.
    private let reconnects: Bool

    /// - Parameters:
    ///   - derivedCredentials: log in as username = client id = device id with the derived broker
    ///     password (a staging-site broker), instead of anonymously (the development broker).
    ///   - reconnect: what the client does when the connection drops (the fault scenarios turn it
    ///     on: a device then waits out a broker restart or a partition like the agent does).
    ///   - keepAlive: MQTT keepalive in seconds.
    ///   - onEvent: called (on the device's own task) after each envelope and status.
    public init(
        id: String, port: Int, servicePublicKey: Curve25519.KeyAgreement.PublicKey, derivedCredentials: Bool = false,
        key: Curve25519.KeyAgreement.PrivateKey = .init(), loop: MQTTEventLoop = .shared,
        reconnect: MQTTReconnectPolicy = .disabled, keepAlive: Int = 30,
        onEvent: @escaping @Sendable (SimulationEvent) -> Void = { _ in }
    ) throws {
        self.id = id
        self.key = key
        self.servicePublicKey = servicePublicKey
        self.onEvent = onEvent
        self.reconnects = reconnect.enabled
        deviceID = try DeviceID(id)
        let offline = try MessageCodec.encode(FleetProtocol.DeviceStatus(device: deviceID, state: .offline, ts: 0))
        let password =
            derivedCredentials
            ? try BrokerCredentials.password(
                device: deviceID, devicePrivateKey: key, servicePublicKey: servicePublicKey)
            : nil
        client = MQTTClient(
            MQTTConfiguration(
                host: "127.0.0.1", port: port, clientID: id, username: derivedCredentials ? id : nil,
                password: password, keepAlive: keepAlive,
                will: MQTTWill(topic: topics.status(deviceID), payload: offline, qos: .atLeastOnce, retain: true),
                reconnect: reconnect),
            loop: loop)
    }

    /// The bootstrap URI printed on the device's label.
    public var uri: String { (try? BootstrapURI(deviceID: deviceID, publicKey: key.publicKey))?.string ?? "" }

    /// A valid hello of this device with a fresh nonce.
    public func helloPayload() throws -> [UInt8] {
        let hello = Hello(
            device: deviceID, publicKey: key.publicKey, agent: "sim-0.1", caps: ["wifi", "reset"], boot: 1,
            nonce: String(UInt64.random(in: 1...UInt64.max), radix: 16))
        return try MessageCodec.encode(hello)
    }

    /// Connects, subscribes to its config, reports online and says hello.
    public func start() async throws {
        try await connect()
        try await sayHello()
    }

    /// Connects, subscribes to its config and reports online; no hello yet.
    public func connect() async throws {
        let messages = client.messages
        let configTopic = topics.config(deviceID)
        loop.withLock { current in
            guard current == nil else { return }  // connect() again after a refused login
            current = Task { [self] in
                for await message in messages where message.topic == configTopic {
                    await handle(message.payload, retained: message.retain)
                }
            }
        }
        try await client.connect()
        _ = try await client.subscribe(configTopic)
        try await report(.online, seq: 0)
    }

    /// Publishes a hello with a fresh nonce (QoS 1).
    public func sayHello() async throws {
        try await client.publish(topics.hello(deviceID), payload: helloPayload(), qos: .atLeastOnce)
    }

    private func handle(_ payload: [UInt8], retained: Bool) async {
        guard !payload.isEmpty else { return }
        let highest = await state.highestSeq
        // A retained re-delivery (after a reconnect) of the envelope applied last: its outcome is
        // reported again, as the agent does while the broker has not acknowledged it (Topics.md,
        // "Envelope"); a receiver treats the repeat as the same result.
        if retained, highest > 0, (try? MessageCodec.decode(Envelope.self, from: payload))?.seq == highest,
            await state.resetSeq != highest
        {
            try? await report(.applied, seq: highest)
            return
        }
        let opened: OpenedEnvelope
        do {
            opened = try EnvelopeCrypto.open(
                payload: payload, device: deviceID, devicePrivateKey: key, servicePublicKey: servicePublicKey,
                highestAppliedSeq: highest)
        } catch .replay(let seq, _) {
            // Already applied. A live copy (provisiond republished it after a broker restart) is
            // reported as a replay, as the agent does; a retained one seen again after a reconnect is not.
            if !retained { try? await report(.failed, seq: seq, reason: .replay) }
            return
        } catch {
            try? await report(.failed, seq: 0, reason: .badEnvelope)
            onEvent(.failed)
            return
        }
        do {
            let seq = opened.envelope.seq
            onEvent(.configReceived(seq: seq))
            switch opened.envelope.kind {
            case .wifi:
                let profile = try MessageCodec.decode(WiFiProfile.self, from: opened.plaintext)
                try await report(.applying, seq: seq)
                await state.applied(profile, seq: seq)
                try await report(.applied, seq: seq)
                onEvent(.applied(seq: seq))
            case .reset:
                await state.reset(seq: seq)
                try await report(.reset, seq: seq)
                onEvent(.reset(seq: seq))
            }
        } catch let error as MQTTError {
            _ = error  // the status could not be sent (client closed): nothing to report it on
        } catch {
            try? await report(.failed, seq: 0, reason: .badEnvelope)
            onEvent(.failed)
        }
    }

    private func report(_ state: FleetProtocol.DeviceState, seq: UInt64, reason: ReasonCode? = nil) async throws {
        let status = FleetProtocol.DeviceStatus(
            device: deviceID, state: state, seq: seq, reason: reason, ts: Int64(Date().timeIntervalSince1970))
        let payload = try MessageCodec.encode(status)
        while true {
            do {
                return try await client.publish(
                    topics.status(deviceID), payload: payload, qos: .atLeastOnce, retain: true)
            } catch MQTTError.notConnected where reconnects {
                try await Task.sleep(for: .milliseconds(200))  // away: the client reconnects by itself
            }
        }
    }

    /// The profiles applied so far, in order.
    public func appliedProfiles() async -> [WiFiProfile] { await state.profiles }
    public func wasReset() async -> Bool { await state.resetSeq != nil }
    /// The highest seq applied (or reset) so far; 0 before the first.
    public func highestAppliedSeq() async -> UInt64 { await state.highestSeq }
    /// Messages the MQTT client dropped because its buffer was full.
    public var droppedMessages: Int { client.droppedMessageCount }

    public func stop() async {
        await client.disconnect()
        client.close()
        loop.withLock { $0?.cancel() }
    }
}

private actor DeviceState {
    var highestSeq: UInt64 = 0
    var profiles: [WiFiProfile] = []
    var resetSeq: UInt64?

    func applied(_ profile: WiFiProfile, seq: UInt64) {
        profiles.append(profile)
        highestSeq = seq
    }

    func reset(seq: UInt64) {
        resetSeq = seq
        highestSeq = seq
    }
}
