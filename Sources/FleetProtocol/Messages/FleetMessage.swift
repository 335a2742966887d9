/// A JSON payload of the protocol: knows its size limit and validates its own fields.
public protocol FleetMessage: Codable, Sendable {
    /// Short name used in error messages ("hello", "envelope", ...).
    static var messageName: String { get }
    /// Largest accepted payload in bytes (Topics.md, "Payload size limits").
    static var maxBytes: Int { get }
    /// True when the payload carries `"v": 1` (every message except plaintexts).
    static var hasVersionField: Bool { get }
    /// Every rule this value breaks; empty when valid.
    func validationIssues() -> [ValidationIssue]
}

extension FleetMessage {
    public static var hasVersionField: Bool { true }

    /// Throws `.invalidField` listing every issue when the value breaks a rule.
    public func requireValid() throws(ProtocolError) {
        let issues = validationIssues()
        if !issues.isEmpty {
            throw ProtocolError(
                .invalidField,
                "\(Self.messageName): " + issues.map(\.description).joined(separator: "; "),
                issues: issues)
        }
    }
}

/// Protocol version carried in every message's `v` field.
public let protocolVersion = 1

/// Largest integer a JSON number carries exactly (2^53 − 1); the bound of every seq.
public let maxJSONSafeInteger: UInt64 = (1 << 53) - 1

/// A string enumeration on the wire: decodes unknown values into a clear error listing the allowed ones.
public protocol WireEnum: RawRepresentable, CaseIterable, Codable, Hashable, Sendable where RawValue == String {}

extension WireEnum {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let v = Self(rawValue: raw) else {
            let allowed = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw ProtocolError(
                .invalidField,
                "field '\(codingPathString(decoder.codingPath))' has unknown value '\(printable(raw))'; expected one of: \(allowed)",
                issues: [ValidationIssue(field: codingPathString(decoder.codingPath), message: "unknown value")])
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

func codingPathString(_ path: [any CodingKey]) -> String {
    path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
}

/// A short, log-safe rendering of untrusted text: at most 64 characters, control characters escaped.
func printable(_ s: String) -> String {
    let out = EscapedText.escape(Substring(s.unicodeScalars.prefix(64)))
    return s.unicodeScalars.count > 64 ? out + "…" : out
}

/// Collects validation issues while checking fields.
struct IssueList {
    var issues: [ValidationIssue] = []

    mutating func add(_ field: String, _ message: String) {
        issues.append(ValidationIssue(field: field, message: message))
    }

    mutating func version(_ v: Int) {
        if v != protocolVersion { add("v", "unsupported protocol version \(v), expected \(protocolVersion)") }
    }

    mutating func length(_ field: String, _ s: String, _ range: ClosedRange<Int>) {
        let n = s.utf8.count
        if n < range.lowerBound || n > range.upperBound {
            add(field, "is \(n) bytes, must be \(range.lowerBound)–\(range.upperBound)")
        }
    }

    mutating func printableASCII(_ field: String, _ s: String, _ range: ClosedRange<Int>) {
        length(field, s, range)
        if s.utf8.contains(where: { $0 < 0x20 || $0 > 0x7E }) {
            add(field, "must be printable ASCII (0x20–0x7E)")
        }
    }

    mutating func noControl(_ field: String, _ s: String) {
        if s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            add(field, "must not contain control characters")
        }
    }

    mutating func seq(_ field: String, _ s: UInt64, allowZero: Bool) {
        if !allowZero && s == 0 { add(field, "must be at least 1") }
        if s > maxJSONSafeInteger { add(field, "must be at most 2^53−1") }
    }

    mutating func timestamp(_ field: String, _ t: Int64) {
        if t < 0 || UInt64(t) > maxJSONSafeInteger { add(field, "must be 0…2^53−1") }
    }

    mutating func fingerprint(_ field: String, _ s: String) {
        if !Fingerprint.isWellFormed(s) { add(field, "must be a fingerprint like 3f2a-91c0-7d44-e810") }
    }

    mutating func publicKey(_ field: String, _ b: Base64URLBytes) {
        if b.count != 32 {
            add(field, "must be 32 bytes, got \(b.count)")
        } else if X25519KeyCheck.isUnusable(b.bytes) {
            add(field, "is a low-order X25519 point, not a usable key")
        }
    }
}
