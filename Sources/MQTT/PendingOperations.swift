/// Operations waiting for the broker, keyed by MQTT message id (mid).
///
/// Why keying by mid is safe although mids are 16 bit and wrap (libmosquitto hands them out
/// sequentially, 1...65535, then 1 again):
/// - an entry is removed the moment its operation completes (PUBACK/PUBCOMP, QoS 0 write, SUBACK,
///   UNSUBACK) or fails, so only *outstanding* operations occupy a mid;
/// - the client caps outstanding publishes (`MQTTConfiguration.maxOutstandingPublishes`, default
///   4096, far below 65535) and libmosquitto completes a connection's publishes in order, so by
///   the time a mid comes round again its previous user is long gone;
/// - as a defence anyway, entries that share a mid are kept in FIFO order: a completion for a mid
///   finishes the oldest entry with that mid, which is the one the broker is answering.
/// Publishes and subscribe/unsubscribe requests use separate instances, so equal mids across the
/// two kinds never meet.
struct PendingOperations<Value> {
    private var entries: [Int32: [Value]] = [:]
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func insert(_ value: Value, mid: Int32) {
        entries[mid, default: []].append(value)
        count += 1
    }

    /// Removes and returns the oldest entry for `mid`, or nil if there is none.
    mutating func complete(mid: Int32) -> Value? {
        guard var list = entries[mid], !list.isEmpty else { return nil }
        let value = list.removeFirst()
        entries[mid] = list.isEmpty ? nil : list
        count -= 1
        return value
    }

    /// Removes and returns every entry (connection closed).
    mutating func removeAll() -> [Value] {
        let all = entries.keys.sorted().flatMap { entries[$0]! }
        entries.removeAll()
        count = 0
        return all
    }

    /// Removes and returns the entries matching `predicate`.
    mutating func removeAll(where predicate: (Value) -> Bool) -> [Value] {
        var removed: [Value] = []
        for (mid, list) in entries {
            let keep = list.filter { !predicate($0) }
            removed += list.filter(predicate)
            entries[mid] = keep.isEmpty ? nil : keep
        }
        count -= removed.count
        return removed
    }
}
