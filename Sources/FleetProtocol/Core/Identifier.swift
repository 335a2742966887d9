/// Shared charset and length rules for the identifiers of the wire protocol.
public enum Identifier {
    /// Maximum length in bytes of a device id, correlation id or operator name.
    public static let maxLength = 64

    /// True for the bytes of `[A-Za-z0-9._-]`.
    @inline(__always)
    public static func isIDByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// Returns nil when `s` is 1...`maxLength` bytes of `[A-Za-z0-9._-]`, else what is wrong.
    public static func problem(_ s: String, maxLength: Int = Identifier.maxLength) -> String? {
        let bytes = Array(s.utf8)
        if bytes.isEmpty { return "is empty" }
        if bytes.count > maxLength { return "is \(bytes.count) bytes, at most \(maxLength) allowed" }
        if let bad = bytes.first(where: { !isIDByte($0) }) {
            return "contains \(describe(byte: bad)); only A-Z a-z 0-9 . _ - are allowed"
        }
        return nil
    }

    /// Validates a correlation id (1–64 of `[A-Za-z0-9._-]`).
    public static func validateCorrelation(_ s: String) throws(ProtocolError) {
        if let p = problem(s) { throw ProtocolError(.invalidIdentifier, "correlation id \(p)") }
    }

    /// Validates an operator name (1–64 of `[A-Za-z0-9._-]`).
    public static func validateOperator(_ s: String) throws(ProtocolError) {
        if let p = problem(s) { throw ProtocolError(.invalidIdentifier, "operator name \(p)") }
    }

    /// Longest site name in bytes.
    public static let maxSiteLength = 32

    /// Returns nil when `s` is a site name: 1–32 bytes of `[a-z0-9_]`, starting with a letter (safe
    /// as a topic level, a file name and a PostgreSQL schema name), else what is wrong.
    public static func siteProblem(_ s: String) -> String? {
        let bytes = Array(s.utf8)
        if bytes.isEmpty { return "is empty" }
        if bytes.count > maxSiteLength { return "is \(bytes.count) bytes, at most \(maxSiteLength) allowed" }
        if let bad = bytes.first(where: { b in
            !((UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
                || b == UInt8(ascii: "_"))
        }) {
            return "contains \(describe(byte: bad)); only a-z 0-9 _ are allowed"
        }
        if !(UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[0]) { return "must start with a letter a-z" }
        return nil
    }

    /// Validates a site name (see ``siteProblem(_:)``).
    public static func validateSite(_ s: String) throws(ProtocolError) {
        if let p = siteProblem(s) { throw ProtocolError(.invalidIdentifier, "site name \(p)") }
    }

    static func describe(byte b: UInt8) -> String {
        switch b {
        case 0: return "a NUL byte"
        case UInt8(ascii: "+"): return "'+' (MQTT wildcard)"
        case UInt8(ascii: "#"): return "'#' (MQTT wildcard)"
        case UInt8(ascii: "/"): return "'/' (topic separator)"
        case 0x20: return "a space"
        case 0x21...0x7E: return "'\(Character(Unicode.Scalar(b)))'"
        default: return "byte 0x\(hexByte(b))"
        }
    }
}

/// A device id: 1–64 bytes of `[A-Za-z0-9._-]`, safe as an MQTT topic level and broker username.
public struct DeviceID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The validated id.
    public let rawValue: String

    /// Validates `raw`.
    /// - Throws: `ProtocolError` with code `.invalidIdentifier` saying what is wrong.
    public init(_ raw: String) throws(ProtocolError) {
        if let p = Identifier.problem(raw) { throw ProtocolError(.invalidIdentifier, "device id \(p)") }
        rawValue = raw
    }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try DeviceID(raw)
        } catch {
            let field = codingPathString(decoder.codingPath)
            throw ProtocolError(
                .invalidIdentifier, "field '\(field)': \(error.message)",
                issues: [ValidationIssue(field: field, message: error.message)])
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public var description: String { rawValue }

    public static func < (a: DeviceID, b: DeviceID) -> Bool { a.rawValue < b.rawValue }
}
