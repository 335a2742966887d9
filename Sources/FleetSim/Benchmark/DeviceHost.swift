import Crypto
import FleetProtocol
import Foundation
import Synchronization

/// A share of the benchmark's simulated devices: in this process, or in a worker process
/// (`fleet-bench worker`) when one process cannot hold them all (each MQTT client needs 3 file
/// descriptors, and the hard limit may be 20,000).
protocol DeviceHost: Sendable {
    /// Timeline indices of its devices: `first..<first + ids.count`.
    var first: Int { get }
    var ids: [String] { get }
    var uris: [String] { get }
    /// Connects every device (subscribe to config, status online), `concurrency` at a time.
    func connect(concurrency: Int) async throws
    /// The devices at these timeline indices say hello now; each hello is marked just before it
    /// is published.
    func sayHello(_ indices: [Int]) async
    /// Messages the hosts' clients dropped.
    var dropped: Int { get async }
    func stop() async
}

/// Simulated devices in this process.
final class LocalHost: DeviceHost {
    let first: Int
    let devices: [SimulatedDevice]
    private let timeline: Timeline

    var ids: [String] { devices.map(\.id) }
    var uris: [String] { devices.map(\.uri) }
    var dropped: Int { devices.reduce(0) { $0 + $1.droppedMessages } }

    /// Creates `count` devices `sim-NNNNN` (fresh X25519 keys) whose marks go to `mark`.
    init(
        first: Int, count: Int, port: Int, servicePublicKey: Curve25519.KeyAgreement.PublicKey, timeline: Timeline,
        mark: @escaping @Sendable (Timeline.Kind, Int, UInt64) -> Void
    ) throws {
        self.first = first
        self.timeline = timeline
        devices = try (first..<(first + count)).map { i in
            try SimulatedDevice(id: String(format: "sim-%05d", i), port: port, servicePublicKey: servicePublicKey) {
                event in
                switch event {
                case .configReceived(let seq): mark(.config, i, seq)
                case .applied(let seq): mark(.applied, i, seq)
                case .failed, .reset: break
                }
            }
        }
    }

    func connect(concurrency: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            while next < min(concurrency, devices.count) {
                let device = devices[next]
                group.addTask { try await device.connect() }
                next += 1
            }
            while try await group.next() != nil, next < devices.count {
                let device = devices[next]
                group.addTask { try await device.connect() }
                next += 1
            }
            try await group.waitForAll()
        }
    }

    func sayHello(_ indices: [Int]) async {
        await withTaskGroup(of: Void.self) { group in
            for i in indices {
                let device = devices[i - first]
                group.addTask { [timeline] in
                    timeline.mark(.hello, device: i)
                    try? await device.sayHello()
                }
            }
        }
    }

    func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for device in devices { group.addTask { await device.stop() } }
        }
    }
}

/// Simulated devices in a `fleet-bench worker` process, driven over its stdin and stdout (one
/// line per command or report; see ``SimulatorWorker``).
final class RemoteHost: DeviceHost {
    let first: Int
    let ids: [String]
    let uris: [String]
    private let process: Process
    private let input: FileHandle
    private let replies: Replies

    /// Answers the worker sent that a command waits for (`connected`, `error`, `dropped`).
    private final class Replies: Sendable {
        /// The devices' bootstrap URIs, as the worker announced them.
        let uris: Mutex<[String]>
        init(count: Int) { uris = Mutex(Array(repeating: "", count: count)) }

        private let state = Mutex<(lines: [String], waiter: CheckedContinuation<String?, Never>?, closed: Bool)>(
            ([], nil, false))

        func post(_ line: String?) {
            let waiter: CheckedContinuation<String?, Never>? = state.withLock { state in
                guard line != nil else {
                    state.closed = true
                    defer { state.waiter = nil }
                    return state.waiter
                }
                if let waiter = state.waiter {
                    state.waiter = nil
                    return waiter
                }
                state.lines.append(line ?? "")
                return nil
            }
            if let waiter {
                waiter.resume(returning: line)
            }
        }

        func next() async -> String? {
            await withCheckedContinuation { continuation in
                let ready: String?? = state.withLock { state in
                    if !state.lines.isEmpty { return .some(state.lines.removeFirst()) }
                    if state.closed { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    /// Starts a worker for `count` devices from timeline index `first` and waits for their URIs.
    static func start(
        executable: URL, first: Int, count: Int, port: Int, servicePublicKeyPath: String, timeline: Timeline
    ) async throws -> RemoteHost {
        let process = Process()
        process.executableURL = executable
        process.arguments = [
            "worker", "--port", String(port), "--service-pubkey", servicePublicKeyPath, "--first", String(first),
            "--count", String(count),
        ]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        let replies = Replies(count: count)
        // One reader thread per worker: marks go straight to the timeline, the rest to `replies`.
        let reader = Thread {
            let handle = stdout.fileHandleForReading
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    Self.handle(line, first: first, timeline: timeline, replies: replies)
                }
            }
            replies.post(nil)
        }
        reader.start()
        guard await replies.next() == "ready" else {
            process.terminate()
            throw FleetSimError("fleet-bench worker for devices \(first)..<\(first + count) did not start")
        }
        let all = replies.uris.withLock { $0 }
        return RemoteHost(
            first: first, ids: (first..<(first + count)).map { String(format: "sim-%05d", $0) }, uris: all,
            process: process, input: stdin.fileHandleForWriting, replies: replies)
    }

    private init(first: Int, ids: [String], uris: [String], process: Process, input: FileHandle, replies: Replies) {
        self.first = first
        self.ids = ids
        self.uris = uris
        self.process = process
        self.input = input
        self.replies = replies
    }

    private static func handle(
        _ line: String, first: Int, timeline: Timeline, replies: Replies
    ) {
        let fields = line.split(separator: " ")
        switch fields.first {
        case "h", "c", "a":
            guard fields.count == 4, let device = Int(fields[1]), let seq = UInt64(fields[2]), let t = Double(fields[3])
            else { return }
            let kind: Timeline.Kind = fields[0] == "h" ? .hello : fields[0] == "c" ? .config : .applied
            timeline.mark(kind, device: device, seq: seq, monotonic: t)
        case "uri":
            guard fields.count == 3, let device = Int(fields[1]) else { return }
            replies.uris.withLock { $0[device - first] = String(fields[2]) }
        default:
            replies.post(line)
        }
    }

    private func send(_ line: String) {
        try? input.write(contentsOf: Data((line + "\n").utf8))
    }

    func connect(concurrency: Int) async throws {
        send("connect \(concurrency)")
        let answer = await replies.next()
        guard answer == "connected" else {
            throw FleetSimError("worker for devices from \(first): \(answer ?? "exited while connecting")")
        }
    }

    func sayHello(_ indices: [Int]) async {
        guard !indices.isEmpty else { return }
        send("hello " + indices.map(String.init).joined(separator: " "))
    }

    var dropped: Int {
        get async {
            send("dropped")
            return await replies.next().flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        }
    }

    func stop() async {
        send("stop")
        _ = await replies.next()
        try? input.close()
        process.waitUntilExit()
    }
}
