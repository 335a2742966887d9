import Crypto
import FleetProtocol
import Foundation
import MQTT
import Synchronization

/// A device agent written in Swift for tests: says hello, opens its envelopes with FleetProtocol
/// (pinned service key, replay check) and reports statuses, like the C agent does.
final class SimulatedDevice: Sendable {
    let id: String
    let key = Curve25519.KeyAgreement.PrivateKey()
    let servicePublicKey: Curve25519.KeyAgreement.PublicKey
    private let topics = try! TopicTree(prefix: "bootstrap")
    private let client: MQTTClient
    private let state = DeviceState()
    private let loop = Mutex<Task<Void, Never>?>(nil)

    /// - Parameter derivedCredentials: log in as username = client id = device id with the derived
    ///   broker password (a staging-site broker), instead of anonymously (the development broker).
    init(
        id: String, port: Int, servicePublicKey: Curve25519.KeyAgreement.PublicKey, derivedCredentials: Bool = false
    ) throws {
        self.id = id
        self.servicePublicKey = servicePublicKey
        let deviceID = try DeviceID(id)
        let offline = try MessageCodec.encode(FleetProtocol.DeviceStatus(device: deviceID, state: .offline, ts: 0))
        let password =
            derivedCredentials
            ? try BrokerCredentials.password(
                device: deviceID, devicePrivateKey: key, servicePublicKey: servicePublicKey)
            : nil
        client = MQTTClient(
            MQTTConfiguration(
                host: "127.0.0.1", port: port, clientID: id, username: derivedCredentials ? id : nil,
                password: password,
                will: MQTTWill(topic: topics.status(deviceID), payload: offline, qos: .atLeastOnce, retain: true),
                reconnect: .disabled))
    }

    var uri: String { (try? BootstrapURI(deviceID: DeviceID(id), publicKey: key.publicKey))?.string ?? "" }

    /// A valid hello of this device with a fresh nonce.
    func helloPayload() throws -> [UInt8] {
        let hello = Hello(
            device: try DeviceID(id), publicKey: key.publicKey, agent: "sim-0.1", caps: ["wifi", "reset"], boot: 1,
            nonce: String(UInt64.random(in: 1...UInt64.max), radix: 16))
        return try MessageCodec.encode(hello)
    }

    /// Connects, subscribes to its config, reports online and says hello.
    func start() async throws {
        let deviceID = try DeviceID(id)
        let messages = client.messages
        loop.withLock { current in
            guard current == nil else { return }  // start() again after a refused login
            current = Task { [self] in
                for await message in messages where message.topic == topics.config(deviceID) {
                    await handle(message.payload)
                }
            }
        }
        try await client.connect()
        _ = try await client.subscribe(topics.config(deviceID))
        try await report(.online, seq: 0)
        try await client.publish(topics.hello(deviceID), payload: helloPayload(), qos: .atLeastOnce)
    }

    private func handle(_ payload: [UInt8]) async {
        guard !payload.isEmpty, let deviceID = try? DeviceID(id) else { return }
        let highest = await state.highestSeq
        do {
            let opened = try EnvelopeCrypto.open(
                payload: payload, device: deviceID, devicePrivateKey: key, servicePublicKey: servicePublicKey,
                highestAppliedSeq: highest)
            switch opened.envelope.kind {
            case .wifi:
                let profile = try MessageCodec.decode(WiFiProfile.self, from: opened.plaintext)
                try await report(.applying, seq: opened.envelope.seq)
                await state.applied(profile, seq: opened.envelope.seq)
                try await report(.applied, seq: opened.envelope.seq)
            case .reset:
                await state.reset(seq: opened.envelope.seq)
                try await report(.reset, seq: opened.envelope.seq)
            }
        } catch EnvelopeError.replay {
            return  // already applied: the retained envelope seen again after a reconnect
        } catch {
            try? await report(.failed, seq: 0, reason: .badEnvelope)
        }
    }

    private func report(_ state: FleetProtocol.DeviceState, seq: UInt64, reason: ReasonCode? = nil) async throws {
        let deviceID = try DeviceID(id)
        let status = FleetProtocol.DeviceStatus(
            device: deviceID, state: state, seq: seq, reason: reason, ts: Int64(Date().timeIntervalSince1970))
        try await client.publish(
            topics.status(deviceID), payload: MessageCodec.encode(status), qos: .atLeastOnce, retain: true)
    }

    /// The profiles applied so far, in order.
    func appliedProfiles() async -> [WiFiProfile] { await state.profiles }
    func wasReset() async -> Bool { await state.resetSeq != nil }

    func stop() async {
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
