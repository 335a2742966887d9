import FleetProtocol
import Foundation

/// Where the progress of a long operation goes (pages gathered, manifest rows enrolled): one line,
/// rewritten in place on a terminal, at most once a second otherwise.
public protocol OperationProgress: Sendable {
    func update(_ line: String)
    func finish()
}

/// Progress on standard error, so the result on standard output stays clean (`--json`).
public final class StandardErrorProgress: OperationProgress, @unchecked Sendable {
    // Unchecked: `lastPrint` and `printed` are guarded by `lock`.
    private let interactive: Bool
    private let lock = NSLock()
    private var lastPrint = ContinuousClock.now - .seconds(10)
    private var printed = false

    public init(interactive: Bool) { self.interactive = interactive }

    public func update(_ line: String) {
        lock.withLock {
            let now = ContinuousClock.now
            guard now - lastPrint >= (interactive ? .milliseconds(100) : .seconds(1)) else { return }
            lastPrint = now
            printed = true
            let text = interactive ? "\r\u{1B}[K\(line)" : "\(line)\n"
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    public func finish() {
        lock.withLock {
            if interactive, printed { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        }
    }
}

/// No progress output (tests, JSON consumers that do not want it).
public struct NoProgress: OperationProgress {
    public init() {}
    public func update(_ line: String) {}
    public func finish() {}
}

extension OperatorSession {
    /// Every enrolled device: the `status` pages, gathered in order.
    public func status(progress: some OperationProgress = NoProgress()) async throws -> StatusResult {
        var devices: [DeviceStatusRow] = []
        var result = StatusResult(devices: [], pending: 0)
        var after: DeviceID?
        repeat {
            // The counts, limits and role as of the last page; the devices of every page.
            result = try await request(.status, PageArgs(after: after), as: StatusResult.self)
            devices += result.devices
            after = try Self.nextPage(result.next, after: after)
            progress.update("status: \(devices.count) devices…")
        } while after != nil
        progress.finish()
        result.devices = devices
        return result
    }

    /// Every pending device: the `pending` pages, gathered in order.
    public func pending(progress: some OperationProgress = NoProgress()) async throws -> PendingResult {
        var result = PendingResult(pending: [])
        var after: DeviceID?
        repeat {
            let page = try await request(.pending, PageArgs(after: after), as: PendingResult.self)
            result.pending += page.pending
            after = try Self.nextPage(page.next, after: after)
            progress.update("pending: \(result.pending.count) devices…")
        } while after != nil
        progress.finish()
        return result
    }

    /// The `after` of the next request; a `next` that does not move forward would loop forever.
    static func nextPage(_ next: DeviceID?, after: DeviceID?) throws(FleetCtlError) -> DeviceID? {
        guard let next else { return nil }
        if let after, next.rawValue <= after.rawValue {
            throw FleetCtlError(.badReply, "provisiond's next page (after \(next)) does not follow \(after)")
        }
        return next
    }
}
