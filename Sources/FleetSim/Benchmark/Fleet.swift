import BrokerHarness
import Crypto
import FleetProtocol
import Foundation
import MQTT

/// The benchmark's devices: simulated ones (timeline indices 0..<simulated.count) followed by real
/// omega-agent processes.
final class Fleet: Sendable {
    let simulated: [SimulatedDevice]
    let agents: [RealAgent]
    /// Timeline index of every device id.
    let index: [String: Int]

    var count: Int { simulated.count + agents.count }
    var uris: [String] { simulated.map(\.uri) + agents.map(\.uri) }
    var dropped: Int { simulated.reduce(0) { $0 + $1.droppedMessages } }

    private init(simulated: [SimulatedDevice], agents: [RealAgent]) {
        self.simulated = simulated
        self.agents = agents
        var index: [String: Int] = [:]
        for (i, id) in (simulated.map(\.id) + agents.map(\.id)).enumerated() { index[id] = i }
        self.index = index
    }

    /// Creates the simulated devices (fresh X25519 keys) and the real agents' identities.
    static func make(simulated: Int, agents: Int, site: FleetSite, timeline: Timeline) async throws -> Fleet {
        let servicePublicKey = try KeyFile.loadPublicKey(from: site.servicePublicKeyPath)
        let port = site.broker.port
        let devices = try (0..<simulated).map { i in
            try SimulatedDevice(
                id: String(format: "sim-%05d", i), port: port, servicePublicKey: servicePublicKey
            ) { event in
                switch event {
                case .configReceived(let seq): timeline.mark(.config, device: i, seq: seq)
                case .applied(let seq): timeline.mark(.applied, device: i, seq: seq)
                case .failed, .reset: break
                }
            }
        }
        var real: [RealAgent] = []
        for i in 0..<agents {
            let id = String(format: "omega-%05d", i)
            real.append(
                try await RealAgent(
                    id: id, site: site, accessPoint: (ssid: FleetBenchmark.ssid, key: FleetBenchmark.premisesKey)))
        }
        return Fleet(simulated: devices, agents: real)
    }

    /// Connects every simulated device (subscribe to config, status online), `concurrency` at a time.
    func connectSimulated(concurrency: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            while next < min(concurrency, simulated.count) {
                let device = simulated[next]
                group.addTask { try await device.connect() }
                next += 1
            }
            while try await group.next() != nil, next < simulated.count {
                let device = simulated[next]
                group.addTask { try await device.connect() }
                next += 1
            }
            try await group.waitForAll()
        }
    }

    /// Starts every real agent (it connects and says hello on its own).
    func startAgents() {
        for agent in agents { try? agent.start() }
    }

    /// The simulated devices at `indices` say hello: all at once, or paced at `rate` per second.
    func sayHello(_ indices: [Int], timeline: Timeline, rate: Double? = nil) async {
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            var sent = 0
            while sent < indices.count {
                let due = rate.map { min(indices.count, Int(seconds(ContinuousClock.now - started) * $0) + 1) }
                while sent < (due ?? indices.count) {
                    let i = indices[sent]
                    let device = simulated[i]
                    group.addTask {
                        timeline.mark(.hello, device: i)
                        try? await device.sayHello()
                    }
                    sent += 1
                }
                if sent < indices.count { try? await Task.sleep(for: .milliseconds(2)) }
            }
        }
    }

    func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for device in simulated { group.addTask { await device.stop() } }
            for agent in agents { group.addTask { await agent.stop() } }
        }
    }
}
