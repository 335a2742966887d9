import Foundation

/// Memory figures of a running process, from /proc (Linux).
public enum ProcessStats {
    /// Peak resident set size (`VmHWM`) in bytes, or nil when /proc cannot tell.
    public static func peakRSS(pid: Int32) -> Int? { statusField("VmHWM", pid: pid) }
    /// Current resident set size (`VmRSS`) in bytes.
    public static func rss(pid: Int32) -> Int? { statusField("VmRSS", pid: pid) }

    private static func statusField(_ name: String, pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kib = Int(fields[1]) else { return nil }
            return kib * 1024
        }
        return nil
    }

    /// Bytes of `path` and its SQLite `-wal` and `-shm` companions.
    static func sqliteBytes(_ path: String) -> Int {
        ["", "-wal", "-shm"].reduce(0) { total, suffix in
            let size = (try? FileManager.default.attributesOfItem(atPath: path + suffix))?[.size] as? Int
            return total + (size ?? 0)
        }
    }

    /// Raises the soft limit on open files to the hard limit: every simulated device holds a few
    /// descriptors, and the broker started after this inherits the limit.
    static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(limit.rlim_cur)
    }
}
