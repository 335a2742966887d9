import FleetProtocol

/// Tracks a push: which devices applied, failed, or are still waiting for the seq they were sent.
///
/// Pure: feed it status reports, ask it for the line to show.
public struct PushProgress: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case waiting
        case applying
        case applied
        case failed(reason: ReasonCode?)
    }

    public private(set) var expected: [DeviceID: Int64]
    public private(set) var outcomes: [DeviceID: Outcome]

    public init(pushed: [PushedDevice]) {
        expected = Dictionary(pushed.map { ($0.device, $0.seq) }, uniquingKeysWith: { _, new in new })
        outcomes = expected.mapValues { _ in .waiting }
    }

    /// Applies one status report; returns true when it changed something.
    @discardableResult
    public mutating func record(_ status: DeviceStatus) -> Bool {
        guard let want = expected[status.device], Int64(status.seq) == want, let current = outcomes[status.device]
        else { return false }
        let next: Outcome
        switch status.state {
        case .applying: next = .applying
        case .applied: next = .applied
        case .failed: next = .failed(reason: status.reason)
        case .online, .offline, .reset: return false
        }
        if case .applied = current { return false }
        if case .failed = current { return false }
        guard next != current else { return false }
        outcomes[status.device] = next
        return true
    }

    public var appliedCount: Int { outcomes.values.filter { $0 == .applied }.count }
    public var failed: [(device: DeviceID, reason: ReasonCode?)] {
        outcomes.compactMap { device, outcome in
            if case .failed(let reason) = outcome { return (device, reason) }
            return nil
        }.sorted { $0.device < $1.device }
    }
    public var waiting: [DeviceID] {
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
