import FleetProtocol
import Foundation

/// `fleetctl enroll --manifest`: any number of devices, sent as requests that each stay under the
/// 16,384-byte request limit.
///
/// Every row is checked here first (a bootstrap URI that does not parse enrolls nobody, as one
/// request would). provisiond checks each request as a whole; when it refuses one row (`key_conflict`,
/// `reserved_id`, …, naming the entry), that row is reported with its manifest line and the rest of
/// its request is sent again, so every row ends either enrolled or reported.
public struct EnrollRunner: Sendable {
    /// What became of the manifest.
    public struct Outcome: Sendable {
        public var enrolled: [DeviceSummary] = []
        /// Rows provisiond refused: manifest line and its reason.
        public var refused: [(line: Int, reason: String)] = []
    }

    /// Bytes left for the entries of one request: the limit minus room for the envelope.
    static let entryBudget = OperatorRequest.maxBytes - 1024

    public let session: OperatorSession
    public init(session: OperatorSession) { self.session = session }

    /// Checks every row locally; throws one error listing every unusable row (nothing is sent).
    public static func check(_ rows: [(line: Int, entry: EnrollEntry)]) throws(FleetCtlError) {
        var problems: [String] = []
        for (line, entry) in rows {
            do {
                _ = try BootstrapURI(parsing: entry.uri)
            } catch {
                problems.append("manifest line \(line): \(error.message)")
            }
            if let group = entry.group, let problem = Identifier.problem(group) {
                problems.append("manifest line \(line): invalid group '\(group.prefix(80))': \(problem)")
            }
        }
        guard problems.isEmpty else {
            let shown = problems.prefix(20).joined(separator: "\n")
            let more = problems.count > 20 ? "\n… and \(problems.count - 20) more" : ""
            throw FleetCtlError(.invalidInput, "\(problems.count) unusable row(s), nothing enrolled:\n\(shown)\(more)")
        }
    }

    /// The rows split into requests under the size limit, in manifest order.
    public static func chunks(_ rows: [(line: Int, entry: EnrollEntry)]) -> [[(line: Int, entry: EnrollEntry)]] {
        var chunks: [[(line: Int, entry: EnrollEntry)]] = []
        var current: [(line: Int, entry: EnrollEntry)] = []
        var size = 0
        for row in rows {
            // The entry as JSON: `{"uri":"…","group":"…"},`; URIs and group names need no escaping.
            let bytes = row.entry.uri.utf8.count + (row.entry.group?.utf8.count ?? 0) + 32
            if !current.isEmpty, size + bytes > entryBudget {
                chunks.append(current)
                current = []
                size = 0
            }
            current.append(row)
            size += bytes
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }

    public func run(_ rows: [(line: Int, entry: EnrollEntry)], progress: some OperationProgress) async throws
        -> Outcome
    {
        try Self.check(rows)
        var outcome = Outcome()
        for chunk in Self.chunks(rows) {
            var remaining = chunk
            while !remaining.isEmpty {
                do {
                    let result = try await session.request(
                        .enroll, EnrollArgs(devices: remaining.map(\.entry)), as: EnrollResult.self)
                    outcome.enrolled += result.enrolled
                    remaining = []
                } catch let error as OperatorError {
                    // "entry N: …" names the refused row of this request; without it, every row of
                    // the request is reported.
                    guard let index = Self.entryIndex(in: error.message), remaining.indices.contains(index) else {
                        outcome.refused += remaining.map { ($0.line, "\(error.code.rawValue): \(error.message)") }
                        remaining = []
                        continue
                    }
                    outcome.refused.append((remaining[index].line, "\(error.code.rawValue): \(error.message)"))
                    remaining.remove(at: index)
                }
            }
            progress.update(
                "enroll: \(outcome.enrolled.count + outcome.refused.count)/\(rows.count) rows · "
                    + "\(outcome.refused.count) refused")
        }
        progress.finish()
        return outcome
    }

    /// The 0-based entry a refusal names (`entry 3: …` is index 2).
    public static func entryIndex(in message: String) -> Int? {
        guard message.hasPrefix("entry ") else { return nil }
        let digits = message.dropFirst(6).prefix { $0.isNumber }
        guard let number = Int(digits), number >= 1 else { return nil }
        return number - 1
    }
}
