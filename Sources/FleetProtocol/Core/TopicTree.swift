/// The versioned topic tree under one configurable prefix (Topics.md, "Topic tree").
public struct TopicTree: Hashable, Sendable {
    /// Protocol version level that follows the prefix.
    public static let version = "v1"
    /// Maximum prefix length in bytes.
    public static let maxPrefixLength = 128

    /// The validated prefix, e.g. `bootstrap` or `site7/bootstrap`.
    public let prefix: String
    /// `prefix/v1`, the root of every topic.
    public let root: String

    /// A topic of the tree, recognised by `route(_:)`.
    public enum Route: Hashable, Sendable {
        case hello(DeviceID)
        case config(DeviceID)
        case status(DeviceID)
        case serviceStatus
        case servicePublicKey
        case events
        /// `P/v1/ops/request/{operator}`: the broker lets only that operator publish here.
        case opsRequest(operator: String)
        case opsReply(operator: String, correlation: String)
    }

    /// Validates `prefix`: levels of `[A-Za-z0-9._-]` joined by `/`, at most 128 bytes.
    /// - Throws: `.invalidTopic` saying what is wrong.
    public init(prefix: String = "bootstrap") throws(ProtocolError) {
        let bytes = Array(prefix.utf8)
        if bytes.isEmpty { throw ProtocolError(.invalidTopic, "topic prefix is empty") }
        if bytes.count > Self.maxPrefixLength {
            throw ProtocolError(.invalidTopic, "topic prefix is \(bytes.count) bytes, at most 128 allowed")
        }
        for level in prefix.split(separator: "/", omittingEmptySubsequences: false) {
            if level.isEmpty {
                throw ProtocolError(
                    .invalidTopic, "topic prefix has an empty level (leading, trailing or double '/')")
            }
            if let bad = level.utf8.first(where: { !Identifier.isIDByte($0) }) {
                throw ProtocolError(
                    .invalidTopic,
                    "topic prefix contains \(Identifier.describe(byte: bad)); levels allow A-Z a-z 0-9 . _ -")
            }
        }
        self.prefix = prefix
        self.root = prefix + "/" + Self.version
    }

    /// `P/v1/devices/{id}/hello`
    public func hello(_ id: DeviceID) -> String { "\(root)/devices/\(id.rawValue)/hello" }
    /// `P/v1/devices/{id}/config` (retained envelope)
    public func config(_ id: DeviceID) -> String { "\(root)/devices/\(id.rawValue)/config" }
    /// `P/v1/devices/{id}/status` (retained status, also the device's will)
    public func status(_ id: DeviceID) -> String { "\(root)/devices/\(id.rawValue)/status" }
    /// `P/v1/service/status`
    public var serviceStatus: String { "\(root)/service/status" }
    /// `P/v1/service/pubkey`
    public var servicePublicKey: String { "\(root)/service/pubkey" }
    /// `P/v1/events`
    public var events: String { "\(root)/events" }
    /// `P/v1/ops/request/{operator}`: where operator `op` publishes its requests (only it may).
    /// - Throws: `.invalidIdentifier` when `op` breaks the id rules.
    public func opsRequest(operator op: String) throws(ProtocolError) -> String {
        try Identifier.validateOperator(op)
        return "\(root)/ops/request/\(op)"
    }

    /// `P/v1/ops/request/+`: every operator's requests (what the service subscribes to).
    public var opsRequestFilter: String { "\(root)/ops/request/+" }

    /// `P/v1/ops/reply/{operator}/{correlation}`
    /// - Throws: `.invalidIdentifier` when either part breaks the id rules.
    public func opsReply(operator op: String, correlation: String) throws(ProtocolError) -> String {
        try Identifier.validateOperator(op)
        try Identifier.validateCorrelation(correlation)
        return "\(root)/ops/reply/\(op)/\(correlation)"
    }

    /// `P/v1/devices/+/hello`: every device's hello.
    public var helloFilter: String { "\(root)/devices/+/hello" }
    /// `P/v1/devices/+/status`: every device's status.
    public var statusFilter: String { "\(root)/devices/+/status" }
    /// `P/v1/devices/+/config`: every device's retained config.
    public var configFilter: String { "\(root)/devices/+/config" }
    /// `P/v1/#`: the whole tree (monitoring).
    public var allFilter: String { "\(root)/#" }

    /// `P/v1/ops/reply/{operator}/+`: every reply to one operator.
    public func opsReplyFilter(operator op: String) throws(ProtocolError) -> String {
        try Identifier.validateOperator(op)
        return "\(root)/ops/reply/\(op)/+"
    }

    /// Recognises a concrete topic of this tree; nil for anything else (other prefix or version,
    /// unknown levels, invalid ids, wildcards).
    public func route(_ topic: String) -> Route? {
        let head = root + "/"
        guard topic.hasPrefix(head) else { return nil }
        let rest = topic.dropFirst(head.count)
        let levels = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch levels.count {
        case 1:
            return levels[0] == "events" ? .events : nil
        case 2:
            switch (levels[0], levels[1]) {
            case ("service", "status"): return .serviceStatus
            case ("service", "pubkey"): return .servicePublicKey
            default: return nil
            }
        case 3:
            if levels[0] == "ops", levels[1] == "request" {
                return Identifier.problem(levels[2]) == nil ? .opsRequest(operator: levels[2]) : nil
            }
            guard levels[0] == "devices", let id = try? DeviceID(levels[1]) else { return nil }
            switch levels[2] {
            case "hello": return .hello(id)
            case "config": return .config(id)
            case "status": return .status(id)
            default: return nil
            }
        case 4:
            guard levels[0] == "ops", levels[1] == "reply",
                Identifier.problem(levels[2]) == nil, Identifier.problem(levels[3]) == nil
            else { return nil }
            return .opsReply(operator: levels[2], correlation: levels[3])
        default:
            return nil
        }
    }
}
