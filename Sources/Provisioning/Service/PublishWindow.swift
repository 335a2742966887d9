import Synchronization

/// A bound on provisiond's unacknowledged publishes: a task takes a slot before it queues a publish
/// and the publish's acknowledgement gives it back.
///
/// Awaiting every PUBACK before the next publish made each hello cost two broker round trips; with
/// the window, publishes stream out in order and only a full window (a broker that does not keep
/// up) makes the sender wait, which in turn stops provisiond from reading more work.
final class PublishWindow: Sendable {
    private struct State {
        var inFlight = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(limit, 1)
    }

    /// Waits for a free slot and takes it.
    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = state.withLock { state in
                guard state.inFlight < limit else {
                    state.waiters.append(continuation)
                    return false
                }
                state.inFlight += 1
                return true
            }
            if free { continuation.resume() }
        }
    }

    /// Gives a slot back (to the longest waiter, if any).
    func release() {
        let (next, idle): (CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) = state.withLock {
            state in
            if !state.waiters.isEmpty { return (state.waiters.removeFirst(), []) }
            state.inFlight -= 1
            guard state.inFlight == 0 else { return (nil, []) }
            defer { state.idleWaiters.removeAll() }
            return (nil, state.idleWaiters)
        }
        next?.resume()
        for waiter in idle { waiter.resume() }
    }

    /// Returns once no publish is outstanding.
    func drain() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state in
                guard state.inFlight > 0 else { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}
