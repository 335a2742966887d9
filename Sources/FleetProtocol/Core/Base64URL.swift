/// Canonical base64url without padding (RFC 4648 §5), as every binary field of the protocol uses.
public enum Base64URL {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Encodes `bytes` without padding.
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= input.count {
            let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = input.count - i
        if rest == 1 {
            let n = UInt32(input[i]) << 16
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
        } else if rest == 2 {
            let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes canonical unpadded base64url.
    ///
    /// Rejects padding (`=`), characters outside `A-Z a-z 0-9 - _`, an impossible length
    /// (4n+1 characters) and non-zero unused bits in the last character, so every byte string has
    /// exactly one accepted encoding.
    /// - Returns: nil with `problem` set when the text is not canonical base64url.
    public static func decode(_ text: String) -> [UInt8]? {
        switch decodeWithProblem(text) {
        case .success(let b): return b
        case .failure: return nil
        }
    }

    struct Problem: Error { let message: String }

    static func decodeWithProblem(_ text: String) -> Result<[UInt8], Problem> {
        let chars = Array(text.utf8)
        if chars.count % 4 == 1 {
            return .failure(Problem(message: "length \(chars.count) is impossible for base64url"))
        }
        var values: [UInt8] = []
        values.reserveCapacity(chars.count)
        for c in chars {
            guard let v = value(c) else {
                if c == UInt8(ascii: "=") { return .failure(Problem(message: "has '=' padding (must be unpadded)")) }
                return .failure(Problem(message: "contains \(Identifier.describe(byte: c)), not base64url"))
            }
            values.append(v)
        }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count * 3 / 4)
        var i = 0
        while i + 4 <= values.count {
            let n =
                UInt32(values[i]) << 18 | UInt32(values[i + 1]) << 12 | UInt32(values[i + 2]) << 6
                | UInt32(values[i + 3])
            out.append(UInt8(n >> 16 & 0xFF))
            out.append(UInt8(n >> 8 & 0xFF))
            out.append(UInt8(n & 0xFF))
            i += 4
        }
        let rest = values.count - i
        if rest == 2 {
            if values[i + 1] & 0x0F != 0 { return .failure(Problem(message: "is not canonical (unused bits set)")) }
            out.append(values[i] << 2 | values[i + 1] >> 4)
        } else if rest == 3 {
            if values[i + 2] & 0x03 != 0 { return .failure(Problem(message: "is not canonical (unused bits set)")) }
            out.append(values[i] << 2 | values[i + 1] >> 4)
            out.append((values[i + 1] & 0x0F) << 4 | values[i + 2] >> 2)
        }
        return .success(out)
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): return 62
        case UInt8(ascii: "_"): return 63
        default: return nil
        }
    }
}

/// Binary data carried in JSON as canonical unpadded base64url.
public struct Base64URLBytes: Hashable, Sendable, Codable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Parses base64url text.
    /// - Throws: `.badBase64` naming `field`.
    public init(base64url text: String, field: String = "value") throws(ProtocolError) {
        switch Base64URL.decodeWithProblem(text) {
        case .success(let b): bytes = b
        case .failure(let p): throw ProtocolError(.badBase64, "\(field) \(p.message)")
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch Base64URL.decodeWithProblem(text) {
        case .success(let b): bytes = b
        case .failure(let p):
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "base64url: \(p.message)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(Base64URL.encode(bytes))
    }

    public var count: Int { bytes.count }
    public var description: String { Base64URL.encode(bytes) }
}
