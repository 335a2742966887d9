internal import CMosquitto
import Foundation
import Glibc
import Synchronization

/// One thread that drives many MQTT clients with poll(2).
///
/// Every libmosquitto call on a client's handle happens on this thread: clients queue commands to
/// it and are woken through a pipe. That sidesteps libmosquitto 2.0.11's threading traps
/// (setting callbacks from a callback deadlocks, `loop_stop(false)` hangs without a disconnect,
/// destroying a handle from its own callback is unsafe) and makes a client cost one socket plus
/// libmosquitto's internal socket pair, not a thread.
///
/// Commands are plain Swift closures and callbacks only record results, resume continuations and
/// feed bounded streams, so no user code ever runs on the loop thread.
public final class MQTTEventLoop: Sendable {
    /// The process-wide loop (never stopped).
    public static let shared = MQTTEventLoop()

    let core: LoopCore

    /// A separate loop thread, for callers who want isolation (e.g. a load generator that must
    /// not share a thread with the service under test). Stopped when the last client using it and
    /// the last reference to it are gone.
    public init() {
        MosquittoLibrary.initializeOnce()
        core = LoopCore()
        core.start()
    }

    deinit {
        core.requestShutdown()
    }
}

/// `mosquitto_lib_init` exactly once per process (never cleaned up: the shared loop lives forever).
enum MosquittoLibrary {
    private static let initialized: Bool = {
        mosquitto_lib_init()
        return true
    }()

    static func initializeOnce() {
        _ = initialized
    }
}

/// The loop thread and the state it owns.
///
/// `@unchecked Sendable` proof: `queue` is protected by a `Mutex`; the wakeup pipe fds are immutable after
/// init; `connections` (and every `Connection` in it) is read and written only on the loop thread,
/// by `run()` and by the commands `run()` executes. Other threads reach it only via `submit`.
final class LoopCore: @unchecked Sendable {
    typealias Command = @Sendable (LoopCore) -> Void

    private struct Queue {
        var commands: [Command] = []
        var shutdown = false
    }

    private let queue = Mutex(Queue())
    /// Wakeup pipe: commands write a byte to `wakeWrite`; the loop polls `wakeFD`.
    private let wakeFD: Int32
    private let wakeWrite: Int32
    /// Loop thread only.
    var connections: [UInt64: Connection] = [:]

    init() {
        var fds: [Int32] = [-1, -1]
        let rc = pipe(&fds)
        precondition(rc == 0, "pipe failed: \(String(cString: strerror(errno)))")
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeFD = fds[0]
        wakeWrite = fds[1]
    }

    func start() {
        let thread = Thread { [self] in self.run() }
        thread.name = "mqtt-event-loop"
        thread.start()
    }

    /// Queues `command` for the loop thread. Safe from any thread, never blocks on the loop.
    func submit(_ command: @escaping Command) {
        let wasEmpty = queue.withLock { queue in
            queue.commands.append(command)
            return queue.commands.count == 1
        }
        if wasEmpty { wake() }
    }

    func requestShutdown() {
        queue.withLock { $0.shutdown = true }
        wake()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)  // a full pipe already means "wake up"
    }

    private func run() {
        var fds: [pollfd] = []
        var owners: [Connection] = []
        var lastHousekeeping = ContinuousClock.now
        while true {
            let (commands, shutdown) = queue.withLock { queue in
                let taken = queue.commands
                queue.commands.removeAll(keepingCapacity: true)
                return (taken, queue.shutdown)
            }
            for command in commands { command(self) }
            if shutdown && connections.isEmpty { break }

            let now = ContinuousClock.now
            var timeout = Duration.seconds(1)
            for connection in connections.values {
                guard let due = connection.reconnectAt else { continue }
                if due <= now {
                    connection.reconnectTimerFired()
                } else {
                    timeout = min(timeout, due - now)
                }
            }

            fds.removeAll(keepingCapacity: true)
            owners.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
            for connection in connections.values {
                let socket = connection.socket
                guard socket >= 0 else { continue }
                // Not reading is this client's flow control (see `Connection.wantsRead`); poll(2)
                // still reports a hang-up or error.
                var events: Int16 = connection.wantsRead ? Int16(POLLIN) : 0
                if connection.wantsWrite { events |= Int16(POLLOUT) }
                fds.append(pollfd(fd: socket, events: events, revents: 0))
                owners.append(connection)
            }
            let milliseconds = Int32(
                timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
            let ready = poll(&fds, nfds_t(fds.count), max(milliseconds, 0) + 1)
            if ready > 0 {
                if fds[0].revents != 0 {
                    var buffer = [UInt8](repeating: 0, count: 256)
                    while read(wakeFD, &buffer, buffer.count) > 0 {}
                }
                for index in 1..<fds.count where fds[index].revents != 0 {
                    owners[index - 1].handleIO(revents: fds[index].revents)
                }
            }
            let after = ContinuousClock.now
            if after - lastHousekeeping >= .milliseconds(250) {
                lastHousekeeping = after
                for connection in connections.values { connection.housekeeping() }
            }
        }
        close(wakeFD)
        close(wakeWrite)
    }
}
