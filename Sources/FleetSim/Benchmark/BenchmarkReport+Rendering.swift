import Foundation

extension BenchmarkReport {
    /// The figures as a two-column text table.
    public func table() -> String {
        var rows: [(String, String)] = []
        func add(_ name: String, _ value: String) { rows.append((name, value)) }
        func rate(_ r: Double) -> String { String(format: "%.0f/s", r) }
        func ms(_ p: Percentiles?) -> String {
            p.map { String(format: "%.0f / %.0f / %.0f ms (max %.0f)", $0.p50, $0.p90, $0.p99, $0.max) } ?? "-"
        }
        add("devices", "\(devices) (\(simulated) simulated, \(agents) omega-agent)")
        add("machine", machine)
        if let raw {
            add(
                "raw broker QoS 1 pub→sub",
                String(format: "%.0f msg/s (%d of %d received)", raw.rate, raw.received, raw.messages))
        }
        if let connectSeconds { add("connect all devices", String(format: "%.1f s", connectSeconds)) }
        if let enroll {
            add(
                "enroll, one manifest",
                enroll.oneManifestSucceeded
                    ? String(
                        format: "%d devices in %.1f s = %.0f dev/s", enroll.enrolled, enroll.oneManifestSeconds,
                        enroll.devicesPerSecond ?? 0)
                    : String(format: "FAILED after %.1f s", enroll.oneManifestSeconds)
                        + " (\(enroll.manifestBytes)-byte manifest): \(enroll.oneManifestError ?? "?")")
            if let chunk = enroll.fallbackChunk, let s = enroll.fallbackSeconds {
                add(
                    "enroll, fallback",
                    String(
                        format: "%d devices in chunks of %d: %.1f s = %.0f dev/s", enroll.enrolled, chunk, s,
                        Double(enroll.enrolled) / max(s, 1e-6)))
            }
        }
        for s in [storm, push?.scenario, steady?.scenario].compactMap({ $0 }) {
            add("\(s.name): applied", "\(s.ingested) of \(s.devices) in \(String(format: "%.1f", s.seconds)) s")
            add("\(s.name): end to end", String(format: "%.0f dev/s", s.endToEndRate))
            add("\(s.name): hello→config published", rate(s.helloToConfigRate))
            add("\(s.name): status ingestion", rate(s.statusIngestionRate))
            add(
                "\(s.name): latency p50/p90/p99",
                ms(s.latency) + (s.name == "push" ? " (push start → envelope)" : " (hello → envelope)"))
            add("\(s.name): lost", "\(s.lostConfigs) configs, \(s.lostStatuses) statuses")
            if s.name == "push", let push {
                add(
                    "push: fleetctl",
                    String(format: "exit %d after %.1f s, ", push.exitStatus, push.seconds)
                        + (push.fleetctlSummary ?? "-"))
            }
            if s.name == "steady rate", let steady {
                add(
                    "steady: offered",
                    String(
                        format: "%.0f hellos/s (target %d), %d hellos", steady.offeredRate, steady.targetRate,
                        steady.hellos))
                add(
                    "steady: unloaded round trip",
                    steady.unloadedRoundTripMs.map { String(format: "%.1f ms", $0) } ?? "-")
            }
        }
        if let status {
            add(
                "fleetctl status",
                status.error == nil
                    ? String(
                        format: "%d of %d applied, %d bytes in %.1f s", status.applied, status.rows, status.outputBytes,
                        status.seconds)
                    : "FAILED (exit \(status.exitStatus)): \(status.error ?? "")")
        }
        add("provisiond peak RSS", provisiondPeakRSS.map { String(format: "%.1f MiB", Double($0) / 1_048_576) } ?? "-")
        add(
            "registry bytes per device",
            registryBytesPerDevice.map { String(format: "%.0f (%d bytes in all)", $0, registryBytes ?? 0) } ?? "-")
        add(
            "end to end ÷ (raw / 4)",
            ratioToBrokerBound.map { String(format: "%.3f", $0) } ?? "-")
        add("benchmark's own drops", "\(benchDropped)")
        add("run time", String(format: "%.1f s", totalSeconds))
        add("result", failures.isEmpty ? "PASS: every device applied, nothing lost" : "FAIL (\(failures.count))")
        let width = rows.map(\.0.count).max() ?? 0
        var text = rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n")
        for failure in failures { text += "\n  - " + failure }
        return text + "\n"
    }

    /// A self-contained SVG: throughput over time (hellos, envelopes, registered statuses per
    /// second, with the scenarios marked) and the latency percentiles of each scenario.
    public func svg() -> String {
        let (w, h, left, top, plotH) = (960.0, 640.0, 70.0, 40.0, 300.0)
        let plotW = w - left - 30
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" \
            font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="22" font-size="15">fleet-bench: \(devices) devices, \(escape(machine))</text>

            """
        let tMax = max(series.last?.t ?? 1, 1)
        let yMax = niceCeiling(series.map { max($0.hellos, $0.configs, $0.ingested) }.max() ?? 1)
        func x(_ t: Double) -> Double { left + t / tMax * plotW }
        func y(_ v: Double) -> Double { top + plotH - v / yMax * plotH }
        out += axis(left: left, top: top, width: plotW, height: plotH, yMax: yMax, unit: "/s", xMax: tMax)
        for p in phases where p.t <= tMax {
            out += "<line x1=\"\(f(x(p.t)))\" y1=\"\(top)\" x2=\"\(f(x(p.t)))\" y2=\"\(top + plotH)\" "
            out += "stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>"
            out += "<text x=\"\(f(x(p.t) + 3))\" y=\"\(top + 12)\" fill=\"#777\" font-size=\"10\" "
            out += "transform=\"rotate(90 \(f(x(p.t) + 3)) \(top + 12))\">\(escape(p.name))</text>\n"
        }
        let lines: [(String, String, KeyPath<SeriesPoint, Double>)] = [
            ("hellos sent", "#999999", \.hellos), ("envelopes received", "#1f77b4", \.configs),
            ("applied registered by provisiond", "#d62728", \.ingested),
        ]
        for (i, line) in lines.enumerated() {
            let points = series.map { "\(f(x($0.t))),\(f(y($0[keyPath: line.2])))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(line.1)\" stroke-width=\"1.5\" points=\"\(points)\"/>\n"
            let ly = top + 20 + Double(i) * 16
            out +=
                "<rect x=\"\(f(left + plotW - 230))\" y=\"\(f(ly - 9))\" width=\"12\" height=\"3\" fill=\"\(line.1)\"/>"
            out += "<text x=\"\(f(left + plotW - 212))\" y=\"\(f(ly - 4))\">\(line.0)</text>\n"
        }
        out += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(top + plotH + 32))\" text-anchor=\"middle\">seconds</text>\n"
        // Latency percentiles, one group of bars per scenario.
        let scenarios = [storm, push?.scenario, steady?.scenario].compactMap { $0 }.filter { $0.latency != nil }
        let top2 = top + plotH + 70
        let plot2H = h - top2 - 50
        let msMax = niceCeiling(scenarios.compactMap { $0.latency?.p99 }.max() ?? 1)
        out += "<text x=\"\(left)\" y=\"\(f(top2 - 10))\">latency percentiles (ms): p50, p90, p99</text>\n"
        out += axis(left: left, top: top2, width: plotW, height: plot2H, yMax: msMax, unit: " ms", xMax: nil)
        let colors = ["#9ecae1", "#4292c6", "#08306b"]
        let groupW = plotW / Double(max(scenarios.count, 1))
        for (g, s) in scenarios.enumerated() {
            guard let l = s.latency else { continue }
            for (b, value) in [l.p50, l.p90, l.p99].enumerated() {
                let barH = min(value, msMax) / msMax * plot2H
                let bx = left + Double(g) * groupW + groupW * 0.2 + Double(b) * groupW * 0.2
                out += "<rect x=\"\(f(bx))\" y=\"\(f(top2 + plot2H - barH))\" width=\"\(f(groupW * 0.18))\" "
                out += "height=\"\(f(barH))\" fill=\"\(colors[b])\"/>"
                out += "<text x=\"\(f(bx + groupW * 0.09))\" y=\"\(f(top2 + plot2H - barH - 3))\" "
                out += "text-anchor=\"middle\" font-size=\"10\">\(String(format: "%.0f", value))</text>\n"
            }
            out += "<text x=\"\(f(left + Double(g) * groupW + groupW / 2))\" y=\"\(f(top2 + plot2H + 16))\" "
            out += "text-anchor=\"middle\">\(escape(s.name)) (\(l.count))</text>\n"
        }
        return out + "</svg>\n"
    }

    private func axis(
        left: Double, top: Double, width: Double, height: Double, yMax: Double, unit: String, xMax: Double?
    )
        -> String
    {
        var out = "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(f(width))\" height=\"\(f(height))\" "
        out += "fill=\"none\" stroke=\"#333\"/>\n"
        for i in 0...4 {
            let v = yMax * Double(i) / 4
            let yy = top + height - height * Double(i) / 4
            out +=
                "<line x1=\"\(f(left - 4))\" y1=\"\(f(yy))\" x2=\"\(f(left + width))\" y2=\"\(f(yy))\" stroke=\"#eee\"/>"
            out +=
                "<text x=\"\(f(left - 6))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(String(format: "%.0f", v))\(unit)</text>\n"
        }
        if let xMax {
            for i in 0...8 {
                let t = xMax * Double(i) / 8
                out += "<text x=\"\(f(left + width * Double(i) / 8))\" y=\"\(f(top + height + 16))\" "
                out += "text-anchor=\"middle\">\(String(format: "%.0f", t))</text>\n"
            }
        }
        return out
    }

    private func niceCeiling(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        let magnitude = pow(10, floor(log10(v)))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= v { return step * magnitude }
        return 10 * magnitude
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
