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

/// Redraws one line with `\r` on a terminal; prints one line per change otherwise.
public struct ProgressPrinter: ProgressOutput {
    public let interactive: Bool
    public init(interactive: Bool) { self.interactive = interactive }

    public func update(_ progress: PushProgress) {
        if interactive {
            FileHandle.standardOutput.write(Data("\r\u{1B}[K\(progress.line)".utf8))
        } else {
            FileHandle.standardOutput.write(Data("\(progress.line)\n".utf8))
        }
    }

    public func finish(_ progress: PushProgress) {
        if interactive { FileHandle.standardOutput.write(Data("\n".utf8)) }
    }
}

/// `fleetctl push`: subscribes to statuses first, asks provisiond to push, then follows the statuses
/// of the pushed seqs until every device answered or the timeout passed.
public struct PushRunner: Sendable {
    public let session: OperatorSession
    public init(session: OperatorSession) { self.session = session }

    public func run(_ args: PushArgs, timeout: Duration, output: some ProgressOutput) async throws -> PushProgress {
        let statuses = try await session.statuses()
        let result = try await session.request(.push, args, as: PushResult.self)
        let box = ProgressBox(PushProgress(pushed: result.pushed))
        output.update(await box.progress)
        if await box.progress.isFinished { return await box.progress }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await status in statuses where await box.record(status) {
                    let progress = await box.progress
                    output.update(progress)
                    if progress.isFinished { break }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
            }
            // Whichever ends first: all answered, or the timeout.
            await group.next()
            group.cancelAll()
        }
        let final = await box.progress
        output.finish(final)
        return final
    }
}

/// The push progress shared between the status reader and the timeout.
private actor ProgressBox {
    var progress: PushProgress
    init(_ progress: PushProgress) { self.progress = progress }
    func record(_ status: DeviceStatus) -> Bool { progress.record(status) }
}
