import FleetProtocol
import Foundation

/// Parses an enrollment manifest: CSV with the columns `uri,group`.
///
/// A header line starting with `uri` is skipped, as are empty lines and lines starting with `#`.
/// The group column may be empty. Bootstrap URIs contain no comma, so no quoting is needed; a quoted
/// field is accepted and unquoted.
public enum Manifest {
    public static func parse(_ text: String) throws(FleetCtlError) -> [EnrollEntry] {
        try parseLines(text).map(\.entry)
    }

    /// The entries with the manifest line each came from (1-based), for per-row error reports.
    public static func parseLines(_ text: String) throws(FleetCtlError) -> [(line: Int, entry: EnrollEntry)] {
        var entries: [(line: Int, entry: EnrollEntry)] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            if entries.isEmpty, fields.first?.lowercased() == "uri" { continue }
            guard fields.count <= 2 else {
                throw FleetCtlError.manifest(line: index + 1, "expected 'uri,group', found \(fields.count) columns")
            }
            guard let uri = fields.first, !uri.isEmpty else {
                throw FleetCtlError.manifest(line: index + 1, "missing bootstrap URI")
            }
            let group = fields.count == 2 && !fields[1].isEmpty ? fields[1] : nil
            entries.append((index + 1, EnrollEntry(uri: uri, group: group)))
        }
        if entries.isEmpty { throw FleetCtlError.manifest(line: 0, "no devices in manifest") }
        return entries
    }
}
