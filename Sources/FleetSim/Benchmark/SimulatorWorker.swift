import FleetProtocol
import Foundation
import Synchronization

/// `fleet-bench worker`: a share of `fleet-bench run`'s simulated devices in their own process.
///
/// The run starts one worker per share and drives it over a pipe, one line each way:
///
/// - worker → run at start: `uri <index> <bootstrap URI>` per device, then `ready`;
/// - `connect <concurrency>` → every device connects; answer `connected` or `error <message>`;
/// - `hello <index> <index> …` → those devices say hello (no answer);
/// - `dropped` → answer `dropped <messages the clients dropped>`;
/// - `stop` → the devices disconnect; answer `stopped`, then the worker exits.
///
/// Marks go to the run as they happen: `h|c|a <index> <seq> <CLOCK_MONOTONIC seconds>` for a
/// hello published, an envelope opened, an `applied` published.
public enum SimulatorWorker {
    public static func run(port: Int, servicePublicKeyPath: String, first: Int, count: Int) async throws {
        _ = ProcessStats.raiseOpenFileLimit()
        let out = LineWriter()
        let servicePublicKey = try KeyFile.loadPublicKey(from: servicePublicKeyPath)
        let timeline = Timeline()
        let host = try LocalHost(
            first: first, count: count, port: port, servicePublicKey: servicePublicKey, timeline: timeline
        ) { kind, device, seq in
            out.mark(kind == .config ? "c" : "a", device, seq)
        }
        for (offset, uri) in host.uris.enumerated() { out.line("uri \(first + offset) \(uri)") }
        out.line("ready")
        out.flush()
        for await command in Self.commands() {
            let fields = command.split(separator: " ")
            switch fields.first {
            case "connect":
                do {
                    try await host.connect(concurrency: fields.count > 1 ? Int(fields[1]) ?? 256 : 256)
                    out.line("connected")
                } catch {
                    out.line("error \(error)".replacingOccurrences(of: "\n", with: " "))
                }
            case "hello":
                let indices = fields.dropFirst().compactMap { Int($0) }.filter {
                    (first..<(first + count)).contains($0)
                }
                Task {
                    await withTaskGroup(of: Void.self) { group in
                        for i in indices {
                            let device = host.devices[i - first]
                            group.addTask {
                                out.mark("h", i, 0)
                                try? await device.sayHello()
                            }
                        }
                    }
                }
            case "dropped":
                out.line("dropped \(host.dropped)")
            case "stop":
                await host.stop()
                out.line("stopped")
                out.flush()
                return
            default:
                out.line("error unknown command")
            }
            out.flush()
        }
        await host.stop()
    }

    /// The lines of standard input, read on a thread of their own.
    private static func commands() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        Thread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }.start()
        return stream
    }
}

/// Standard output in lines, written by many tasks; buffered and flushed every 20 ms so marks do
/// not cost a write each.
private final class LineWriter: Sendable {
    private let buffer = Mutex(Data())

    init() {
        Thread { [weak self] in
            while let self {
                Thread.sleep(forTimeInterval: 0.02)
                self.flush()
            }
        }.start()
    }

    func line(_ text: String) {
        buffer.withLock { $0.append(contentsOf: Array((text + "\n").utf8)) }
    }

    func mark(_ kind: String, _ device: Int, _ seq: UInt64) {
        line("\(kind) \(device) \(seq) \(String(format: "%.6f", Timeline.monotonic()))")
    }

    /// Writes under the lock, so two flushes never reorder lines.
    func flush() {
        buffer.withLock { buffer in
            guard !buffer.isEmpty else { return }
            FileHandle.standardOutput.write(buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }
}
