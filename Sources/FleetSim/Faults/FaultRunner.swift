import BrokerHarness
import Crypto
import FleetProtocol
import Foundation
import GRDB
import Glibc
import MQTT
import Synchronization

/// Runs one ``FaultScenario`` against real processes on loopback: enroll the fleet (simulated
/// devices plus real agents), assign a profile, push to every device, break something in the middle,
/// repair it, and count what came out: applied, failed, lost, applied twice, sealed twice.
public final class FaultRunner: Sendable {
    let options: FaultOptions
    static let group = "faults"
    static let profile = "faults-office"
    static let ssid = "FaultsOffice"
    /// The profile's key; the real agents' simulated access point accepts only this one.
    static let premisesKey = "faults-premises-key-1"

    public init(options: FaultOptions) { self.options = options }

    /// Runs `scenario`; `progress` gets one line per step.
    public func run(_ scenario: FaultScenario, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws
        -> FaultReport
    {
        let started = ContinuousClock.now
        let agentCount = min(scenario == .agentKill ? max(options.agents, 3) : options.agents, options.devices)
        var report = FaultReport(scenario: scenario, devices: options.devices, agents: agentCount)
        // Each simulated device's client holds its socket and libmosquitto's internal socket pair.
        let limit = ProcessStats.raiseOpenFileLimit()
        guard limit >= 3 * options.devices + 256 else {
            throw FleetSimError(
                "\(options.devices) devices need about \(3 * options.devices + 256) open files and this process may "
                    + "open \(limit) (`ulimit -Hn`)")
        }
        let site = try await FaultSite.start(
            binDirectory: options.binDirectory, keepAlive: options.keepAlive, registryOnTmpfs: scenario == .diskFull,
            tmpfsBytes: (16 << 20) + options.devices * (16 << 10), persistence: options.brokerPersistence)
        let run = FaultRun(scenario: scenario, options: options, site: site, progress: progress)
        do {
            try await run.setUp(simulated: options.devices - agentCount, agents: agentCount)
            try await run.execute(&report)
        } catch {
            report.failures.append("run stopped: \(error)")
        }
        await run.finish(&report)
        report.notes.append(
            "broker: \(site.brokerCPUSeconds().map { String(format: "%.1f", $0) } ?? "?") CPU s"
                + "\(scenario == .brokerKill ? " since its restart" : ""), "
                + "\(site.brokerBytesWritten().map { String(format: "%.1f", Double($0) / 1e6) } ?? "?") MB written, "
                + "persistence file \(site.brokerDatabaseBytes()) bytes")
        report.totalSeconds = seconds(ContinuousClock.now - started)
        if !report.passed {
            report.notes.append("provisiond log tail:\n" + String(site.provisiondLog().suffix(3000)))
        }
        await run.stop()
        await site.stop()
        return report
    }
}

/// One scenario's fleet and its steps.
final class FaultRun {
    let scenario: FaultScenario
    let options: FaultOptions
    let site: FaultSite
    let progress: @Sendable (String) -> Void
    let tracker = ApplyTracker()
    var simulated: [SimulatedDevice] = []
    var agents: [RealAgent] = []
    var monitor: FaultMonitor?
    /// Agent C of the agent-kill scenario reaches the broker through this one.
    var agentProxy: TCPProxy?
    var repaired = ContinuousClock.now

    init(
        scenario: FaultScenario, options: FaultOptions, site: FaultSite, progress: @escaping @Sendable (String) -> Void
    ) {
        self.scenario = scenario
        self.options = options
        self.site = site
        self.progress = progress
    }

    var allIDs: [String] { simulated.map(\.id) + agents.map(\.id) }

    // MARK: set-up

    func setUp(simulated count: Int, agents agentCount: Int) async throws {
        let serviceKey = try KeyFile.loadPublicKey(from: site.servicePublicKeyPath)
        let partitioned = scenario == .partitionDevices ? Int(Double(count) * options.partitionShare) : 0
        let reconnect = MQTTReconnectPolicy(minDelay: .milliseconds(200), maxDelay: .seconds(5))
        simulated = try (0..<count).map { i in
            let id = String(format: "sim-%05d", i)
            return try SimulatedDevice(
                id: id, port: i < partitioned ? site.deviceProxy.port : site.broker.port, servicePublicKey: serviceKey,
                reconnect: reconnect, keepAlive: options.keepAlive
            ) { [tracker] event in tracker.record(id, event) }
        }
        if scenario == .agentKill { agentProxy = try TCPProxy(targetPort: site.broker.port) }
        for i in 0..<agentCount {
            let id = String(format: "omega-%05d", i)
            let port = (scenario == .agentKill && i == 2) ? agentProxy?.port ?? site.broker.port : site.broker.port
            agents.append(
                try await RealAgent(
                    id: id, port: port, servicePublicKeyPath: site.servicePublicKeyPath,
                    directory: site.directory.appendingPathComponent("agent-\(id)"),
                    executable: FleetSite.binary("omega-agent", in: site.binDirectory),
                    accessPoint: (ssid: FaultRunner.ssid, key: FaultRunner.premisesKey)))
        }
        monitor = try await FaultMonitor(port: site.broker.port, prefix: site.prefix, agents: agents.map(\.id))
    }

    // MARK: the scenario

    func execute(_ report: inout FaultReport) async throws {
        try await enroll(&report)
        try await checked(
            site.fleetctl(
                [
                    "profile", "add", FaultRunner.profile, "--ssid", FaultRunner.ssid, "--encryption", "psk2",
                    "--key-stdin", "--service-pubkey", site.servicePublicKeyPath,
                ], stdin: Data("\(FaultRunner.premisesKey)\n".utf8)), "profile add")
        try await checked(site.fleetctl(["assign", FaultRunner.profile, "--group", FaultRunner.group]), "assign")

        progress("connecting \(simulated.count) simulated devices")
        try await connectSimulated()
        if scenario == .agentKill {
            try await killAgentsDuringApply(&report)
        } else {
            for agent in agents { try agent.start() }
        }
        // The real agents said hello and got their first config (seq 1); wait for it before the push.
        try await waitUntil("the real agents applied their first config", timeout: .seconds(180)) {
            try self.registryRows().filter { $0.id.hasPrefix("omega-") }.allSatisfy { $0.settled }
        }

        progress("push to \(allIDs.count) devices")
        let push = try site.startFleetctl(
            ["push", "--group", FaultRunner.group, "--timeout", String(Int(seconds(options.convergeTimeout)))])
        repaired = ContinuousClock.now
        switch scenario {
        case .brokerKill, .provisiondKillPush, .provisiondStop, .brokerStop, .partitionService, .partitionDevices:
            try await waitUntil("a quarter of the configs delivered", timeout: .seconds(120)) {
                self.tracker.configsReceived >= max(1, self.simulated.count / 4)
            }
            try await injectMidPush(&report)
        case .provisiondKillEnroll, .agentKill, .duplicates, .diskFull:
            break
        }
        let converged = try await converge(&report)
        _ = await push.terminate()
        if converged, scenario == .duplicates { try await duplicates(&report) }
        if converged, scenario == .diskFull { try await diskFull(&report) }
    }

    /// Manifests of 100 (a request is limited to 16 KiB); the kill-enroll scenario SIGKILLs provisiond
    /// while the second one is being handled and sends that manifest again after the restart.
    private func enroll(_ report: inout FaultReport) async throws {
        progress("enrolling \(allIDs.count) devices")
        let uris = simulated.map(\.uri) + agents.map(\.uri)
        let chunks = stride(from: 0, to: uris.count, by: 100).map { Array(uris[$0..<min($0 + 100, uris.count)]) }
        for (i, chunk) in chunks.enumerated() {
            let manifest = site.directory.appendingPathComponent("manifest-\(i).csv")
            try ("uri,group\n" + chunk.map { "\($0),\(FaultRunner.group)\n" }.joined()).write(
                to: manifest, atomically: true, encoding: .utf8)
            if scenario == .provisiondKillEnroll, i == min(1, chunks.count - 1) {
                let enrolling = try site.startFleetctl(["enroll", "--manifest", manifest.path])
                try await Task.sleep(for: .milliseconds(Int.random(in: 20...200)))
                await site.killProvisiond()
                report.faults.append("provisiond SIGKILL during enroll manifest \(i + 1) of \(chunks.count)")
                try await Task.sleep(for: .seconds(1))
                try await site.startProvisiond()
                let status = (try? await enrolling.waitForExit(timeout: .seconds(5))) ?? 124
                if status != 0 {
                    _ = await enrolling.terminate()
                    report.notes.append("the interrupted enroll failed (exit \(status)); the operator sent it again")
                } else {
                    report.notes.append("the interrupted enroll was answered before the kill")
                }
                repaired = ContinuousClock.now
            }
            try await checked(site.fleetctl(["enroll", "--manifest", manifest.path]), "enroll manifest \(i + 1)")
        }
    }

    private func connectSimulated() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for device in simulated {
                if next >= 64 { try await group.next() }
                group.addTask { try await device.connect() }
                next += 1
            }
            try await group.waitForAll()
        }
    }

    private func injectMidPush(_ report: inout FaultReport) async throws {
        let outage = Duration.seconds(2 * options.keepAlive + 1)
        switch scenario {
        case .brokerKill:
            // provisiond stays away until the restarted broker's retained configs are counted.
            site.serviceProxy.set(.drop)
            let cpu = site.brokerCPUSeconds().map { String(format: "%.2f", $0) } ?? "?"
            let saved = site.brokerDatabaseBytes()
            await site.broker.kill()
            report.notes.append("broker before the kill: \(cpu) CPU s, persistence file \(saved) bytes")
            report.faults.append("broker SIGKILL after \(tracker.configsReceived) configs delivered")
            try await Task.sleep(for: .seconds(1))
            try await site.broker.restart()
            let kept = try await retainedConfigs()
            site.serviceProxy.set(.pass)
            report.notes.append(
                "retained configs on the restarted broker: \(kept) of \(allIDs.count) devices "
                    + "(the rest were written after the last autosave; provisiond republishes them)")
        case .provisiondKillPush:
            await site.killProvisiond()
            report.faults.append("provisiond SIGKILL after \(tracker.configsReceived) configs delivered")
            try await Task.sleep(for: .seconds(1))
            try await site.startProvisiond()
        case .provisiondStop:
            // The broker keeps reading what provisiond's socket buffer still holds after the stop (a
            // push's configs, seconds of it under load), and its keepalive counts from the last of
            // it: stopped at least `outage`, and on until the will is out.
            let stopped = ContinuousClock.now
            site.signalProvisiond(SIGSTOP)
            try await Task.sleep(for: outage)
            let willSeen: Void? = try? await waitUntil("provisiond's will", timeout: .seconds(120)) {
                self.monitor?.serviceStates().contains("offline") ?? true
            }
            site.signalProvisiond(SIGCONT)
            report.faults.append(
                "provisiond SIGSTOP for \(Int(seconds(ContinuousClock.now - stopped))) s (keepalive \(options.keepAlive) s"
                    + "\(willSeen == nil ? ", no will within 120 s more" : ", until its will was out"))")
            try await expectServiceWillAndOnline(&report)
        case .brokerStop:
            site.signalBroker(SIGSTOP)
            report.faults.append("broker SIGSTOP for \(Int(seconds(outage))) s (keepalive \(options.keepAlive) s)")
            try await Task.sleep(for: outage)
            site.signalBroker(SIGCONT)
        case .partitionService, .partitionDevices:
            let proxy = scenario == .partitionService ? site.serviceProxy : site.deviceProxy
            let what =
                scenario == .partitionService
                ? "broker <-> provisiond"
                : "broker <-> \(Int(Double(simulated.count) * options.partitionShare)) devices"
            proxy.set(.freeze)
            report.faults.append("\(what) frozen for \(Int(seconds(outage))) s")
            try await Task.sleep(for: outage)
            proxy.set(.drop)
            report.faults.append("\(what) dropped for 3 s")
            try await Task.sleep(for: .seconds(3))
            proxy.set(.pass)
            if scenario == .partitionService { try await expectServiceWillAndOnline(&report) }
        default:
            break
        }
        repaired = ContinuousClock.now
    }

    /// The broker published provisiond's will (`offline`) during the outage and provisiond said
    /// `online` again afterwards.
    private func expectServiceWillAndOnline(_ report: inout FaultReport) async throws {
        guard let monitor else { return }
        do {
            try await waitUntil("provisiond online again after its will", timeout: .seconds(120)) {
                let states = monitor.serviceStates()
                guard let offline = states.firstIndex(of: "offline") else { return false }
                return states[(offline + 1)...].contains("online")
            }
            report.notes.append("service status seen live: \(monitor.serviceStates().joined(separator: " -> "))")
        } catch {
            report.failures.append(
                "the will did not fire or provisiond did not come back online: live service states "
                    + "\(monitor.serviceStates())")
        }
    }

    /// How many devices' retained configs the broker holds now (read by a fresh subscriber).
    private func retainedConfigs() async throws -> Int {
        let client = MQTTClient(
            MQTTConfiguration(
                host: "127.0.0.1", port: site.broker.port,
                clientID: "fault-retained-\(UInt32.random(in: 0...UInt32.max))",
                reconnect: .disabled, messageBufferSize: 1 << 16), loop: MQTTEventLoop())
        try await client.connect()
        let stream = client.messages
        let topics = TopicSet()
        let counter = Task {
            for await message in stream where message.retain && !message.payload.isEmpty {
                topics.insert(message.topic)
            }
        }
        _ = try await client.subscribe(try TopicTree(prefix: site.prefix).configFilter)
        try await Task.sleep(for: .seconds(2))
        await client.disconnect()
        client.close()
        counter.cancel()
        return topics.count
    }

    // MARK: agents killed at each apply step

    /// Agent A dies at `applying` (before its uci commit), agent B after the commit (a slow join keeps
    /// it there), agent C after its `applied` report reached the broker but before the PUBACK came back
    /// (its proxy holds the broker's answers); each is restarted.
    private func killAgentsDuringApply(_ report: inout FaultReport) async throws {
        guard agents.count >= 3, let monitor, let agentProxy else {
            throw FleetSimError("agent-kill needs 3 real agents")
        }
        let (a, b, c) = (agents[0], agents[1], agents[2])
        // B's access point takes 4 s to give a lease: time to kill it between commit and report.
        let scenarioURL = b.directory.appendingPathComponent("scenario.json")
        if var world = try JSONSerialization.jsonObject(with: Data(contentsOf: scenarioURL)) as? [String: Any],
            var aps = world["aps"] as? [[String: Any]], !aps.isEmpty
        {
            aps[0]["join_delay_s"] = 4
            world["aps"] = aps
            try JSONSerialization.data(withJSONObject: world).write(to: scenarioURL)
        }
        for agent in [a, b, c] { try agent.start() }
        try await waitUntil("agent A applying", timeout: .seconds(120)) {
            monitor.sawStatus(of: a.id, state: "applying")
        }
        await a.kill()
        report.faults.append("agent \(a.id) SIGKILL at applying (before commit)")
        try await waitUntil("agent B committed", timeout: .seconds(120)) {
            b.wireless().contains(FaultRunner.premisesKey)
        }
        await b.kill()
        report.faults.append("agent \(b.id) SIGKILL after the uci commit, before its report")
        try await waitUntil("agent C applying", timeout: .seconds(120)) {
            monitor.sawStatus(of: c.id, state: "applying")
        }
        // After the join the agent reconnects over the new network and reports there: that
        // connection gets its CONNACK, then nothing more.
        agentProxy.set(.freezeDownstreamAfterConnack)
        try await waitUntil("agent C's applied reached the broker", timeout: .seconds(120)) {
            monitor.sawStatus(of: c.id, state: "applied")
        }
        await c.kill()
        agentProxy.set(.pass)
        report.faults.append("agent \(c.id) SIGKILL after its applied report, before the PUBACK")
        try await Task.sleep(for: .seconds(1))
        for agent in [a, b, c] { try agent.start() }
        repaired = ContinuousClock.now
    }

    // MARK: duplicates

    /// Every simulated device's hello and last status delivered twice, and one push request sent twice
    /// with the same id: one new seq per device, applied once, one outcome each.
    private func duplicates(_ report: inout FaultReport) async throws {
        guard let monitor else { return }
        let before = Dictionary(uniqueKeysWithValues: try registryRows().map { ($0.id, $0.lastSeq) })
        let tree = monitor.tree
        for device in simulated {
            let id = try DeviceID(device.id)
            try await monitor.publishTwice(tree.hello(id), device.helloPayload())
            let seq = await device.highestAppliedSeq()
            let status = try MessageCodec.encode(
                DeviceStatus(device: id, state: .applied, seq: seq, ts: Int64(Date().timeIntervalSince1970)))
            try await monitor.publishTwice(tree.status(id), status, retain: true)
        }
        report.faults.append("\(simulated.count) hellos and \(simulated.count) applied statuses delivered twice")
        let requestID = "dup-\(UInt32.random(in: 0...UInt32.max))"
        let operatorName = FaultMonitor.operatorName
        let replyTopic = try tree.opsReply(operator: operatorName, correlation: requestID)
        let request = try JSONSerialization.data(withJSONObject: [
            "v": 1, "id": requestID, "op": "push", "reply_to": replyTopic, "args": ["group": FaultRunner.group],
        ])
        try await monitor.publishTwice(tree.opsRequest(operator: operatorName), Array(request))
        report.faults.append("operator push request \(requestID) delivered twice")
        repaired = ContinuousClock.now
        try await waitUntil("the reply to the push request", timeout: .seconds(120)) {
            !monitor.finalReplies(on: replyTopic).isEmpty
        }
        try await Task.sleep(for: .seconds(2))  // time for a second execution to show, if any
        report.notes.append("final replies to the request sent twice: \(monitor.finalReplies(on: replyTopic))")
        _ = try await converge(&report)
        let after = try registryRows()
        let pushedTwice = after.filter { ($0.lastSeq - (before[$0.id] ?? 0)) > 1 }.count
        let notPushed = after.filter { $0.lastSeq == (before[$0.id] ?? 0) }.count
        report.notes.append(
            "push request sent twice: \(after.count - pushedTwice - notPushed) devices got one new seq, "
                + "\(pushedTwice) more than one, \(notPushed) none")
        if pushedTwice > 0 { report.failures.append("\(pushedTwice) devices got a new seq per copy of one request") }
        if notPushed > 0 { report.failures.append("\(notPushed) devices got no new seq from the push") }
    }

    // MARK: disk full

    /// Fills the registry's file system, expects operator writes refused with `storage` and reads
    /// still answered, frees the space and expects a push to go through.
    private func diskFull(_ report: inout FaultReport) async throws {
        // An empty WAL first (SQLite's own TRUNCATE checkpoint; contents unchanged): otherwise the next
        // writes reuse the space of a WAL that has grown during the push and the disk is not yet full to them.
        try site.checkpointRegistry()
        let filler = site.registryDirectory.appendingPathComponent("filler")
        let fd = open(filler.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FleetSimError("cannot create \(filler.path)") }
        let block = [UInt8](repeating: 0x5a, count: 64 << 10)
        var size = 0
        while true {
            let written = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written <= 0 { break }
            size += written
        }
        close(fd)
        report.faults.append("registry file system filled (\(size / 1024) KiB of filler)")
        var refused = 0
        var otherErrors: [String] = []
        for attempt in 1...8 {
            let added = try await site.fleetctl(
                [
                    "profile", "add", "\(FaultRunner.profile)-\(attempt)", "--ssid", FaultRunner.ssid, "--encryption",
                    "psk2", "--key-stdin", "--service-pubkey", site.servicePublicKeyPath,
                ], stdin: Data("\(FaultRunner.premisesKey)\n".utf8), timeout: .seconds(60))
            if added.status == 0 { continue }
            if added.output.contains("storage") { refused += 1 } else { otherErrors.append(added.output) }
        }
        let status = try await site.fleetctl(["status", "--json"], timeout: .seconds(60))
        report.notes.append(
            "while full: \(refused) of 8 profile writes refused with storage; status read exit \(status.status)")
        if refused == 0 { report.failures.append("no operator write was refused while the file system was full") }
        if !otherErrors.isEmpty {
            report.failures.append("writes failed with another error: \(otherErrors.first ?? "")")
        }
        if status.status != 0 { report.failures.append("status read failed while full: \(status.output.prefix(300))") }
        if !site.provisiondRunning { report.failures.append("provisiond exited on a full disk") }
        try FileManager.default.removeItem(at: filler)
        report.faults.append("space returned")
        try await checked(
            site.fleetctl(
                [
                    "profile", "add", FaultRunner.profile, "--ssid", FaultRunner.ssid, "--encryption", "psk2",
                    "--key-stdin", "--service-pubkey", site.servicePublicKeyPath,
                ], stdin: Data("\(FaultRunner.premisesKey)\n".utf8)), "profile add after space returned")
        let push = try await site.fleetctl(["push", "--group", FaultRunner.group, "--timeout", "300"])
        if push.status != 0 {
            // Not the scenario's verdict: the devices' outcomes below are (fleetctl waits 15 s for a reply).
            report.notes.append("fleetctl push after space returned: exit \(push.status): \(push.output.suffix(200))")
        }
        repaired = ContinuousClock.now
        _ = try await converge(&report)
    }

    // MARK: convergence and figures

    struct Row: Sendable {
        var id: String
        var state: String
        var lastSeq: Int64
        var acknowledged: Bool
        var settled: Bool { lastSeq > 0 && acknowledged && (state == "applied" || state == "failed") }
    }

    func registryRows() throws -> [Row] {
        try site.readRegistry { db in
            try GRDB.Row.fetchAll(db, sql: "SELECT id, state, lastSeq, acknowledged FROM device ORDER BY id").map {
                Row(id: $0["id"], state: $0["state"], lastSeq: $0["lastSeq"], acknowledged: $0["acknowledged"])
            }
        }
    }

    /// Waits until every device settled on its latest seq (the simulated ones holding it themselves);
    /// sets `convergeSeconds` from the repair. False on timeout.
    @discardableResult
    func converge(_ report: inout FaultReport) async throws -> Bool {
        progress("waiting for the fleet to converge")
        let deadline = ContinuousClock.now + options.convergeTimeout
        var pushedAgain = false
        while ContinuousClock.now < deadline {
            if try await countOutcomes().lost == 0 {
                report.convergeSeconds = seconds(ContinuousClock.now - repaired)
                return true
            }
            // A push whose transaction never committed (provisiond died first) sealed nothing: the
            // operator pushes again.
            if !pushedAgain, ContinuousClock.now - repaired > .seconds(30),
                try registryRows().contains(where: { $0.lastSeq == 0 })
            {
                pushedAgain = true
                report.notes.append("some devices had no seq 30 s after the repair: pushed again")
                _ = try? await site.fleetctl(["push", "--group", FaultRunner.group, "--timeout", "5"])
            }
            try await Task.sleep(for: .seconds(1))
        }
        report.convergeSeconds = nil
        return false
    }

    /// applied / failed / lost now, as defined in ``FaultReport``.
    func countOutcomes() async throws -> (applied: Int, failed: Int, lost: Int) {
        let rows = Dictionary(uniqueKeysWithValues: try registryRows().map { ($0.id, $0) })
        var applied = 0
        var failed = 0
        for device in simulated {
            guard let row = rows[device.id], row.settled else { continue }
            if row.state == "failed" {
                failed += 1
            } else if await device.highestAppliedSeq() == UInt64(row.lastSeq) {
                applied += 1
            }
        }
        for agent in agents {
            guard let row = rows[agent.id], row.settled else { continue }
            if row.state == "failed" {
                failed += 1
            } else if agent.wireless().contains("option key '\(FaultRunner.premisesKey)'") {
                applied += 1
            }
        }
        return (applied, failed, allIDs.count - applied - failed)
    }

    func finish(_ report: inout FaultReport) async {
        do {
            let outcome = try await countOutcomes()
            (report.applied, report.failed, report.lost) = (outcome.applied, outcome.failed, outcome.lost)
            let (outcomesTwice, sealedTwice, integrity) = try site.readRegistry { db in
                let outcomes =
                    try Int.fetchOne(
                        db,
                        sql: """
                            SELECT COUNT(*) FROM (SELECT device, seq FROM audit
                            WHERE type IN ('device.applied', 'device.failed') GROUP BY device, seq HAVING COUNT(*) > 1)
                            """) ?? 0
                let sealed =
                    try Int.fetchOne(
                        db,
                        sql: """
                            SELECT COUNT(*) FROM (SELECT device, seq FROM audit WHERE type = 'config.sealed'
                            GROUP BY device, seq HAVING COUNT(*) > 1)
                            """) ?? 0
                let check = try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
                return (outcomes, sealed, check)
            }
            report.doubleApplied = tracker.doubleApplies + outcomesTwice
            report.sealedTwice = sealedTwice
            report.integrity = integrity
            if outcomesTwice > 0 {
                report.notes.append("\(outcomesTwice) (device, seq) pairs with more than one outcome in the audit log")
            }
        } catch {
            report.failures.append("could not read the registry: \(error)")
        }
        if report.lost > 0 { report.failures.append("\(report.lost) devices lost (no outcome for their latest seq)") }
        if report.doubleApplied > 0 { report.failures.append("\(report.doubleApplied) double applies") }
        if report.sealedTwice > 0 { report.failures.append("\(report.sealedTwice) seqs sealed twice") }
        if report.integrity != "ok" { report.failures.append("registry integrity_check: \(report.integrity)") }
        if report.convergeSeconds == nil { report.failures.append("the fleet did not converge in time") }
        if report.failed > 0 { report.failures.append("\(report.failed) devices failed") }
    }

    func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for device in simulated { group.addTask { await device.stop() } }
            for agent in agents { group.addTask { await agent.stop() } }
        }
        await monitor?.stop()
        await agentProxy?.stop()
    }

    // MARK: helpers

    private func checked(_ result: (status: Int32, output: String), _ what: String) throws {
        guard result.status == 0 else { throw FleetSimError("fleetctl \(what) failed: \(result.output.suffix(1000))") }
    }

    private func waitUntil(_ what: String, timeout: Duration, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            if ContinuousClock.now >= deadline { throw FleetSimError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// Distinct topics seen by a reader task.
private final class TopicSet: Sendable {
    private let topics = Mutex(Set<String>())
    func insert(_ topic: String) { topics.withLock { _ = $0.insert(topic) } }
    var count: Int { topics.withLock { $0.count } }
}
