/// Tracks a push: which devices applied, failed, or are still waiting for the seq they were sent.
///
/// Pure: feed it status reports, ask it for the line to show.
public struct PushProgress: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case waiting
        case applying
        case applied
        case failed(reason: String)
    }

    public private(set) var expected: [String: Int64]
    public private(set) var outcomes: [String: Outcome]

    public init(pushed: [PushedDevice]) {
        expected = Dictionary(pushed.map { ($0.device, $0.seq) }, uniquingKeysWith: { _, new in new })
        outcomes = expected.mapValues { _ in .waiting }
    }

    /// Applies one status report; returns true when it changed something.
    @discardableResult
    public mutating func record(device: String, state: String, seq: Int64, reason: String?) -> Bool {
        guard let want = expected[device], seq == want, let current = outcomes[device] else { return false }
        let next: Outcome
        switch state {
        case "applying": next = .applying
        case "applied": next = .applied
        case "failed": next = .failed(reason: reason ?? "unknown")
        default: return false
        }
        if case .applied = current { return false }
        if case .failed = current { return false }
        guard next != current else { return false }
        outcomes[device] = next
        return true
    }

    public var appliedCount: Int { outcomes.values.filter { $0 == .applied }.count }
    public var failed: [(device: String, reason: String)] {
        outcomes.compactMap { device, outcome in
            if case .failed(let reason) = outcome { return (device, reason) }
            return nil
        }.sorted { $0.device < $1.device }
    }
    public var waiting: [String] {
        outcomes.filter { $0.value == .waiting || $0.value == .applying }.map(\.key).sorted()
    }
    public var isFinished: Bool { waiting.isEmpty }
    public var succeeded: Bool { isFinished && failed.isEmpty }

    public var applyingCount: Int { outcomes.values.filter { $0 == .applying }.count }

    /// `applied 1/4 · applying 1 · failed 0 · waiting 2`: every recorded change alters the line, so a
    /// non-interactive log gets one distinct line per change. "waiting" counts devices not heard from.
    public var line: String {
        "applied \(appliedCount)/\(expected.count) · applying \(applyingCount) · failed \(failed.count) · "
            + "waiting \(waiting.count - applyingCount)"
    }
}
