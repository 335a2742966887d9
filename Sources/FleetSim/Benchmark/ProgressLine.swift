import Foundation

extension FleetBenchmark {
    /// One line saying where the run is: rewritten in place on a terminal, else printed every
    /// `interval` on a line of its own; written to stderr so stdout stays the table.
    public func reportProgress(interactive: Bool) -> Task<Void, Never> {
        let interval: Duration = interactive ? .milliseconds(500) : .seconds(5)
        return Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                let line = progressLine()
                let text = interactive ? "\r\u{1B}[K" + line : line + "\n"
                FileHandle.standardError.write(Data(text.utf8))
            }
            if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        }
    }

    func progressLine() -> String {
        let (name, pid) = current
        let c = counts
        let rss = pid > 0 ? ProcessStats.rss(pid: pid).map { String(format: "%.0f MiB", Double($0) / 1_048_576) } : nil
        return String(format: "fleet-bench %6.1f s  ", timeline.now())
            + "\(name)  hellos \(c.hellos)  envelopes \(c.configs)  applied \(c.applied)  registered \(c.ingested)"
            + "  provisiond RSS \(rss ?? "-")"
    }
}
