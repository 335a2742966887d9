import Foundation
import Synchronization

/// Everything the benchmark saw, in order, with times in seconds since the run began.
///
/// Devices (simulated and real), the audit-event monitor and the scenarios write marks from many
/// tasks at once; a `Mutex` keeps it one ordered list with running counts for the progress line.
final class Timeline: Sendable {
    enum Kind: Int, CaseIterable, Sendable {
        /// A device published a hello (the time just before the publish).
        case hello
        /// A device received (and, when simulated, opened) an envelope.
        case config
        /// A device published status `applied`.
        case applied
        /// provisiond registered an `applied` status (its `device.applied` audit event arrived).
        case ingested
    }

    struct Mark: Sendable {
        let kind: Kind
        let device: Int
        let seq: UInt64
        let time: Double
    }

    private struct State {
        var marks: [Mark] = []
        var counts = [Int](repeating: 0, count: Kind.allCases.count)
    }

    /// `CLOCK_MONOTONIC` when the run began: one clock for the whole machine, so worker processes
    /// report their marks in it.
    let origin = Timeline.monotonic()
    private let state = Mutex(State())

    /// Seconds since the run began.
    func now() -> Double { Self.monotonic() - origin }

    /// Seconds of `CLOCK_MONOTONIC`, the same in every process of the machine.
    static func monotonic() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// A mark taken at `monotonic` (``monotonic()``, possibly in another process).
    func mark(_ kind: Kind, device: Int, seq: UInt64 = 0, monotonic: Double? = nil) {
        let mark = Mark(kind: kind, device: device, seq: seq, time: monotonic.map { $0 - origin } ?? now())
        state.withLock {
            $0.marks.append(mark)
            $0.counts[kind.rawValue] += 1
        }
    }

    /// Marks so far, from `start` on.
    func marks(from start: Int = 0) -> ArraySlice<Mark> { state.withLock { $0.marks[start...] } }
    var markCount: Int { state.withLock { $0.marks.count } }
    func count(_ kind: Kind) -> Int { state.withLock { $0.counts[kind.rawValue] } }
}

/// Seconds of a Duration as a Double.
public func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
