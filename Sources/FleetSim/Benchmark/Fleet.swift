import BrokerHarness
import Crypto
import FleetProtocol
import Foundation
import MQTT

/// The benchmark's devices: simulated ones (timeline indices 0..<simulatedCount), in this process
/// or spread over worker processes, followed by real omega-agent processes.
final class Fleet: Sendable {
    let hosts: [any DeviceHost]
    let agents: [RealAgent]
    /// Timeline index of every device id.
    let index: [String: Int]
    let simulatedCount: Int
    let uris: [String]

    var count: Int { simulatedCount + agents.count }
    var dropped: Int {
        get async {
            var total = 0
            for host in hosts { total += await host.dropped }
            return total
        }
    }

    private init(hosts: [any DeviceHost], agents: [RealAgent]) {
        self.hosts = hosts
        self.agents = agents
        simulatedCount = hosts.reduce(0) { $0 + $1.ids.count }
        uris = hosts.flatMap(\.uris) + agents.map(\.uri)
        var index: [String: Int] = [:]
        for (i, id) in (hosts.flatMap(\.ids) + agents.map(\.id)).enumerated() { index[id] = i }
        self.index = index
    }

    /// Creates the simulated devices (fresh X25519 keys) and the real agents' identities. Up to
    /// `perProcess` simulated devices live in this process; more are spread evenly over worker
    /// processes (`workerExecutable worker …`), none holding more than `perProcess`.
    static func make(
        simulated: Int, agents: Int, perProcess: Int, workerExecutable: URL?, site: FleetSite, timeline: Timeline
    ) async throws -> Fleet {
        let port = site.broker.port
        var hosts: [any DeviceHost] = []
        if simulated <= perProcess || workerExecutable == nil {
            let servicePublicKey = try KeyFile.loadPublicKey(from: site.servicePublicKeyPath)
            hosts.append(
                try LocalHost(
                    first: 0, count: simulated, port: port, servicePublicKey: servicePublicKey, timeline: timeline
                ) { kind, device, seq in timeline.mark(kind, device: device, seq: seq) })
        } else if let workerExecutable {
            let workers = (simulated + perProcess - 1) / perProcess
            var first = 0
            for w in 0..<workers {
                let count = simulated / workers + (w < simulated % workers ? 1 : 0)
                hosts.append(
                    try await RemoteHost.start(
                        executable: workerExecutable, first: first, count: count, port: port,
                        servicePublicKeyPath: site.servicePublicKeyPath, timeline: timeline))
                first += count
            }
        }
        var real: [RealAgent] = []
        for i in 0..<agents {
            let id = String(format: "omega-%05d", i)
            real.append(
                try await RealAgent(
                    id: id, site: site, accessPoint: (ssid: FleetBenchmark.ssid, key: FleetBenchmark.premisesKey)))
        }
        return Fleet(hosts: hosts, agents: real)
    }

    /// Connects every simulated device (subscribe to config, status online), `concurrency` at a
    /// time in each host.
    func connectSimulated(concurrency: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for host in hosts { group.addTask { try await host.connect(concurrency: concurrency) } }
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
        var sent = 0
        while sent < indices.count {
            let due = rate.map { min(indices.count, Int(seconds(ContinuousClock.now - started) * $0) + 1) }
            let batch = indices[sent..<(due ?? indices.count)]
            await withTaskGroup(of: Void.self) { group in
                for host in hosts {
                    let own = batch.filter { $0 >= host.first && $0 < host.first + host.ids.count }
                    if !own.isEmpty { group.addTask { await host.sayHello(own) } }
                }
            }
            sent += batch.count
            if sent < indices.count { try? await Task.sleep(for: .milliseconds(2)) }
        }
    }

    func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for host in hosts { group.addTask { await host.stop() } }
            for agent in agents { group.addTask { await agent.stop() } }
        }
    }
}
