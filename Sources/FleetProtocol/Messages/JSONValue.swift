/// Any JSON value, for the free-form `args`, `result` and `progress` of operator messages.
public enum JSONValue: Hashable, Sendable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// An empty object, `{}`.
    public static let emptyObject = JSONValue.object([:])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// True for `.object`.
    public var isObject: Bool {
        if case .object = self { return true }
        return false
    }

    /// Converts any Encodable value (a struct of operation arguments, say) into a JSON value.
    public init<T: Encodable>(encoding value: T) throws(ProtocolError) {
        let data: [UInt8]
        do {
            data = try MessageCodec.jsonEncode(value)
        } catch {
            throw ProtocolError(.invalidField, "cannot encode \(T.self) as JSON")
        }
        self = try MessageCodec.jsonDecode(JSONValue.self, from: data, context: "value")
    }

    /// Decodes this JSON value as `T` (for example an operation's argument struct).
    /// - Throws: `ProtocolError` naming the missing or mistyped field.
    public func decode<T: Decodable>(_ type: T.Type) throws(ProtocolError) -> T {
        let data: [UInt8]
        do {
            data = try MessageCodec.jsonEncode(self)
        } catch {
            throw ProtocolError(.invalidField, "cannot re-encode JSON value")
        }
        return try MessageCodec.jsonDecode(T.self, from: data, context: "\(T.self)")
    }
}
