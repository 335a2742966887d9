import FleetProtocol

/// Tracks a push: which devices applied, failed, or are still waiting for the seq they were sent.
///
/// Pure: feed it the pushed devices (a page at a time for a group) and status reports, ask it for
/// the line to show. Counts are kept as they change, so a push to 10,000 devices costs O(1) per
/// report. A report that arrives before its device's page was answered is kept and applied when
/// the page arrives.
public struct PushProgress: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case waiting
        case applying
        case applied
        case failed(reason: ReasonCode?)
    }

    public private(set) var expected: [DeviceID: Int64] = [:]
    public private(set) var outcomes: [DeviceID: Outcome] = [:]
    public private(set) var appliedCount = 0
    public private(set) var applyingCount = 0
    public private(set) var failedCount = 0
    /// Reports of devices not (yet) known to be pushed, a few per device, oldest first.
    private var early: [DeviceID: [DeviceStatus]] = [:]

    public init(pushed: [PushedDevice] = []) {
        add(pushed)
    }

    /// Adds the devices of one reply page, with any report that already arrived for them.
    public mutating func add(_ pushed: [PushedDevice]) {
        for device in pushed {
            if let old = outcomes[device.device] { count(old, -1) }
            expected[device.device] = device.seq
            outcomes[device.device] = .waiting
            for status in early.removeValue(forKey: device.device) ?? [] { record(status) }
        }
    }

    /// Applies one status report; returns true when it changed something.
    @discardableResult
    public mutating func record(_ status: DeviceStatus) -> Bool {
        guard let want = expected[status.device], let current = outcomes[status.device] else {
            var kept = early[status.device, default: []]
            if kept.count >= 4 { kept.removeFirst() }
            kept.append(status)
            early[status.device] = kept
            return false
        }
        guard Int64(status.seq) == want else { return false }
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
        count(current, -1)
        count(next, 1)
        outcomes[status.device] = next
        return true
    }

    private mutating func count(_ outcome: Outcome, _ delta: Int) {
        switch outcome {
        case .waiting: break
        case .applying: applyingCount += delta
        case .applied: appliedCount += delta
        case .failed: failedCount += delta
        }
    }

    public var failed: [(device: DeviceID, reason: ReasonCode?)] {
        outcomes.compactMap { device, outcome in
            if case .failed(let reason) = outcome { return (device, reason) }
            return nil
        }.sorted { $0.device < $1.device }
    }
    public var waiting: [DeviceID] {
        outcomes.filter { $0.value == .waiting || $0.value == .applying }.map(\.key).sorted()
    }
    public var isFinished: Bool { appliedCount + failedCount == expected.count }
    public var succeeded: Bool { isFinished && failedCount == 0 }

    /// `applied 1/4 · applying 1 · failed 0 · waiting 2`: every recorded change alters the line.
    /// "waiting" counts devices not heard from.
    public var line: String {
        "applied \(appliedCount)/\(expected.count) · applying \(applyingCount) · failed \(failedCount) · "
            + "waiting \(expected.count - appliedCount - applyingCount - failedCount)"
    }
}
