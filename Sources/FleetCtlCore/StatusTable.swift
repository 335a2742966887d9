import FleetProtocol
import Foundation

/// Renders rows as an aligned text table.
public enum TextTable {
    public static func render(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// The `fleetctl status` table.
    public static func status(_ result: StatusResult) -> String {
        let rows = result.devices.map { d in
            [
                d.device.rawValue, d.group ?? "-", d.profile ?? "-", d.state.rawValue, String(d.seq),
                [d.lastStatus?.rawValue, d.reason?.rawValue].compactMap { $0 }.joined(separator: " ").ifEmpty("-"),
                d.fingerprint,
            ]
        }
        var text = render(
            header: ["DEVICE", "GROUP", "PROFILE", "STATE", "SEQ", "LAST STATUS", "FINGERPRINT"], rows: rows)
        if result.pending > 0 { text += "\n\(result.pending) pending device(s): see 'fleetctl pending'" }
        if let cap = result.pendingCap, let age = result.pendingMaxAge {
            text += "\npending limits: \(cap) devices, forgotten \(age) s after their last hello"
            if let refused = result.pendingRefused, refused > 0 {
                text += "; \(refused) hello(s) of new ids refused while full"
            }
        }
        if let site = result.site { text += "\nsite: \(site)" }
        if let role = result.role { text += "\nyour role: \(role.rawValue)" }
        return text
    }
}

extension String {
    fileprivate func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
