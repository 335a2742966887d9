import Foundation

/// Decodes and encodes protocol payloads with the limits and rules of Topics.md.
public enum MessageCodec {
    /// Decodes a payload of kind `T`.
    ///
    /// Order: size limit (before any parsing) → JSON object (no member name twice in one object) →
    /// `v` → fields and types → field rules. Unknown fields are ignored.
    /// - Throws: `ProtocolError` saying what is wrong: `.tooLarge`, `.malformedJSON`,
    ///   `.missingField`, `.wrongType`, `.badBase64`, `.invalidIdentifier` or `.invalidField`
    ///   (the latter lists every issue).
    public static func decode<T: FleetMessage>(_ type: T.Type, from bytes: [UInt8]) throws(ProtocolError) -> T {
        let message = try decodeUnvalidated(type, from: bytes)
        try message.requireValid()
        return message
    }

    /// Decodes a payload given as `Data` or any byte collection.
    public static func decode<T: FleetMessage, C: Collection>(
        _ type: T.Type, from bytes: C
    ) throws(ProtocolError) -> T where C.Element == UInt8 {
        try decode(type, from: Array(bytes))
    }

    /// Size, JSON, version and type checks only, without the field rules.
    static func decodeUnvalidated<T: FleetMessage>(_ type: T.Type, from bytes: [UInt8]) throws(ProtocolError) -> T {
        if bytes.count > T.maxBytes {
            throw ProtocolError(
                .tooLarge, "\(T.messageName) is \(bytes.count) bytes, at most \(T.maxBytes) allowed")
        }
        guard let first = bytes.first(where: { !isJSONWhitespace($0) }), first == UInt8(ascii: "{") else {
            throw ProtocolError(.malformedJSON, "\(T.messageName) is not a JSON object")
        }
        // A syntax check first: Foundation's decoder reports both syntax errors and out-of-range
        // numbers as "not valid JSON"; parsing once without types tells them apart.
        let object: [String: Any]
        do {
            guard let o = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                throw ProtocolError(.malformedJSON, "not an object")
            }
            object = o
        } catch {
            throw ProtocolError(.malformedJSON, "\(T.messageName) is not valid JSON")
        }
        // Parsers disagree on which of two same-named members wins (Foundation's decoder keeps the
        // first, JSONSerialization and json-c the last), so a name twice in one object is refused.
        if writtenMembers(bytes) != distinctMembers(object) {
            throw ProtocolError(.malformedJSON, "\(T.messageName) has a member name twice in one object")
        }
        if T.hasVersionField {
            let probe = try jsonDecode(VersionProbe.self, from: bytes, context: T.messageName, object: object)
            if probe.v != protocolVersion {
                throw ProtocolError(
                    .invalidField,
                    "\(T.messageName): unsupported protocol version \(probe.v), expected \(protocolVersion)",
                    issues: [ValidationIssue(field: "v", message: "unsupported protocol version \(probe.v)")])
            }
        }
        return try jsonDecode(T.self, from: bytes, context: T.messageName, object: object)
    }

    /// Encodes `message` deterministically (sorted keys, no insignificant whitespace, `/` not escaped)
    /// after validating it, so nothing invalid is ever published.
    /// - Throws: `ProtocolError` when the message breaks a rule or exceeds its size limit.
    public static func encode<T: FleetMessage>(_ message: T) throws(ProtocolError) -> [UInt8] {
        try message.requireValid()
        let bytes: [UInt8]
        do {
            bytes = try jsonEncode(message)
        } catch {
            throw ProtocolError(.invalidField, "\(T.messageName) cannot be encoded as JSON")
        }
        if bytes.count > T.maxBytes {
            throw ProtocolError(
                .tooLarge, "\(T.messageName) encodes to \(bytes.count) bytes, at most \(T.maxBytes) allowed")
        }
        return bytes
    }

    /// Encodes `message` as a `String` (UTF-8 JSON).
    public static func encodeString<T: FleetMessage>(_ message: T) throws(ProtocolError) -> String {
        String(decoding: try encode(message), as: UTF8.self)
    }

    // MARK: - JSON plumbing

    private struct VersionProbe: Decodable {
        let v: Int
    }

    static func jsonEncode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    static func jsonDecode<T: Decodable>(
        _ type: T.Type, from bytes: [UInt8], context: String, object: [String: Any]? = nil
    ) throws(ProtocolError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as ProtocolError {
            throw ProtocolError(error.code, "\(context): \(error.message)", issues: error.issues)
        } catch let error as DecodingError {
            if case .dataCorrupted(let ctx) = error, ctx.codingPath.isEmpty, let object {
                // Syntax was fine, so a number did not fit its integer field.
                let fields = object.compactMap { key, value -> String? in
                    guard let n = value as? NSNumber else { return nil }
                    let d = n.doubleValue
                    return (d < 0 || d != d.rounded() || d > 9_007_199_254_740_991) ? key : nil
                }.sorted()
                let names = fields.isEmpty ? "a number" : fields.map { "'\($0)'" }.joined(separator: ", ")
                throw ProtocolError(
                    .wrongType, "\(context): \(names) must be a non-negative integer ≤ 2^53−1",
                    issues: fields.map { ValidationIssue(field: $0, message: "must be a non-negative integer") })
            }
            throw describe(error, context: context)
        } catch {
            throw ProtocolError(.malformedJSON, "\(context): not valid JSON")
        }
    }

    private static func describe(_ error: DecodingError, context: String) -> ProtocolError {
        switch error {
        case .keyNotFound(let key, let ctx):
            let field = codingPathString(ctx.codingPath + [key])
            return ProtocolError(
                .missingField, "\(context): missing required field '\(field)'",
                issues: [ValidationIssue(field: field, message: "is missing")])
        case .typeMismatch(let type, let ctx):
            let field = codingPathString(ctx.codingPath)
            return ProtocolError(
                .wrongType, "\(context): field '\(field)' has the wrong type, expected \(jsonTypeName(type))",
                issues: [ValidationIssue(field: field, message: "expected \(jsonTypeName(type))")])
        case .valueNotFound(let type, let ctx):
            let field = codingPathString(ctx.codingPath)
            return ProtocolError(
                .wrongType, "\(context): field '\(field)' is null, expected \(jsonTypeName(type))",
                issues: [ValidationIssue(field: field, message: "is null")])
        case .dataCorrupted(let ctx):
            if ctx.codingPath.isEmpty {
                return ProtocolError(.malformedJSON, "\(context): not valid JSON")
            }
            let field = codingPathString(ctx.codingPath)
            if ctx.debugDescription.hasPrefix("base64url") {
                return ProtocolError(
                    .badBase64, "\(context): field '\(field)' is not valid \(ctx.debugDescription)",
                    issues: [ValidationIssue(field: field, message: "is not valid base64url")])
            }
            return ProtocolError(
                .wrongType, "\(context): field '\(field)' has an out-of-range or unreadable value",
                issues: [ValidationIssue(field: field, message: "out-of-range or unreadable value")])
        @unknown default:
            return ProtocolError(.malformedJSON, "\(context): not valid JSON")
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is DeviceID.Type, is Base64URLBytes.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int64.Type, is UInt64.Type, is UInt32.Type, is Int32.Type: return "an integer"
        case is Double.Type: return "a number"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") || name.hasPrefix("KeyedDecodingContainer") { return "an object" }
            if let wire = type as? any WireEnum.Type { return "a string (\(wire.allRawValues))" }
            return "a JSON value of another type"
        }
    }

    /// Members of every object in a parsed tree, each name once (JSONSerialization keeps one).
    private static func distinctMembers(_ value: Any) -> Int {
        if let object = value as? [String: Any] {
            return object.values.reduce(object.count) { $0 + distinctMembers($1) }
        }
        if let array = value as? [Any] {
            return array.reduce(0) { $0 + distinctMembers($1) }
        }
        return 0
    }

    /// Name separators (`:` outside strings) of valid JSON text: one per member as written.
    private static func writtenMembers(_ bytes: [UInt8]) -> Int {
        var count = 0
        var inString = false
        var escaped = false
        for b in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if b == UInt8(ascii: "\\") {
                    escaped = true
                } else if b == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if b == UInt8(ascii: "\"") {
                inString = true
            } else if b == UInt8(ascii: ":") {
                count += 1
            }
        }
        return count
    }

    private static func isJSONWhitespace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D
    }
}

extension WireEnum {
    static var allRawValues: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
