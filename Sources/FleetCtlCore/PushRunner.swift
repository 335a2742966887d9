import FleetProtocol
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where push progress goes.
public protocol ProgressOutput: Sendable {
    func update(_ progress: PushProgress)
    func finish(_ progress: PushProgress)
}

/// Redraws one line with `\r` on a terminal (at most ten times a second); prints a line per change
/// otherwise, at most one a second, and always the last one.
public final class ProgressPrinter: ProgressOutput, @unchecked Sendable {
    // Unchecked: `lastLine` and `lastPrint` are guarded by `lock`.
    public let interactive: Bool
    private let lock = NSLock()
    private var lastLine = ""
    private var lastPrint = ContinuousClock.now - .seconds(10)

    public init(interactive: Bool) { self.interactive = interactive }

    public func update(_ progress: PushProgress) {
        lock.withLock {
            let now = ContinuousClock.now
            guard now - lastPrint >= (interactive ? .milliseconds(100) : .seconds(1)) || progress.isFinished else {
                return
            }
            show(progress.line, at: now)
        }
    }

    public func finish(_ progress: PushProgress) {
        lock.withLock {
            if progress.line != lastLine { show(progress.line, at: .now) }
            if interactive { FileHandle.standardOutput.write(Data("\n".utf8)) }
        }
    }

    private func show(_ line: String, at now: ContinuousClock.Instant) {
        guard line != lastLine else { return }
        lastLine = line
        lastPrint = now
        if interactive {
            FileHandle.standardOutput.write(Data("\r\u{1B}[K\(line)".utf8))
        } else {
            FileHandle.standardOutput.write(Data("\(line)\n".utf8))
        }
    }
}

/// `fleetctl push`: subscribes to statuses first, asks provisiond to push (a group a page at a
/// time), then follows the statuses of the pushed seqs until every device answered or the timeout
/// passed. The counts come from the devices' own reports, never from the request alone.
public struct PushRunner: Sendable {
    public let session: OperatorSession
    public init(session: OperatorSession) { self.session = session }

    public func run(_ args: PushArgs, timeout: Duration, output: some ProgressOutput) async throws -> PushProgress {
        let statuses = try await session.statuses()
        let box = ProgressBox()
        // The first page: its errors (no profile, revoked device) end the push before anything else.
        let first = try await session.request(.push, args, as: PushResult.self)
        await box.add(first.pushed)
        if first.next == nil { await box.allPagesAnswered() }
        output.update(await box.progress)
        if await box.isDone {
            output.finish(await box.progress)
            return await box.progress
        }
        let deadline = ContinuousClock.now + timeout
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await status in statuses {
                    if await box.record(status) { output.update(await box.progress) }
                    if await box.isDone { break }
                }
            }
            group.addTask {
                var after = first.next
                while let next = after {
                    var more = args
                    more.after = next
                    let page = try await session.request(.push, more, as: PushResult.self)
                    await box.add(page.pushed)
                    output.update(await box.progress)
                    after = try OperatorSession.nextPage(page.next, after: next)
                }
                await box.allPagesAnswered()
                // Every device may have answered before the last page did.
                if await box.isDone { throw CancellationError() }
                try await Task.sleep(until: deadline)
            }
            group.addTask {
                try await Task.sleep(until: deadline)
            }
            // Whichever ends first: all answered, the timeout, or a page that failed.
            do {
                try await group.next()
            } catch is CancellationError {
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
        let final = await box.progress
        output.finish(final)
        return final
    }
}

/// The push progress shared between the page requests, the status reader and the timeout.
private actor ProgressBox {
    var progress = PushProgress()
    private var pagesAnswered = false

    func add(_ pushed: [PushedDevice]) { progress.add(pushed) }
    func record(_ status: DeviceStatus) -> Bool { progress.record(status) }
    func allPagesAnswered() { pagesAnswered = true }
    /// Every page answered and every pushed device reported an outcome.
    var isDone: Bool { pagesAnswered && progress.isFinished }
}
