/// The replies to the operator requests that wrote something, by operator and request id: a request
/// delivered again (a QoS 1 redelivery, an operator client resending after a reconnect) is answered
/// again with the same reply and not run a second time (Topics.md, "Operator requests").
///
/// Kept in memory for the last ``capacity`` writes of this provisiond process: a copy that reaches
/// another instance sharing the work, or this one after a restart, is run again.
actor AnsweredRequests {
    enum Entry {
        /// Being decided now: a copy arriving meanwhile is dropped (the first one answers).
        case inProgress
        case answered([EngineAction])
    }

    let capacity: Int
    private var entries: [String: Entry] = [:]
    /// Answered keys, oldest first.
    private var order: [String] = []

    init(capacity: Int = 1024) { self.capacity = capacity }

    /// Nil when `key` is new (it is then in progress); else what to send for the copy.
    func begin(_ key: String) -> [EngineAction]? {
        switch entries[key] {
        case .none:
            entries[key] = .inProgress
            return nil
        case .inProgress: return []
        case .answered(let replies): return replies
        }
    }

    /// Records the replies to `key`'s request when it wrote something; forgets it otherwise (a
    /// request that changed nothing may run again).
    func finish(_ key: String, wrote: Bool, replies: [EngineAction]) {
        guard wrote else {
            entries[key] = nil
            return
        }
        entries[key] = .answered(replies)
        order.append(key)
        if order.count > capacity { entries[order.removeFirst()] = nil }
    }
}
