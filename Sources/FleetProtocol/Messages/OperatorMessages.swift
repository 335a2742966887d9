/// A request from an operator on `P/v1/ops/request`.
public struct OperatorRequest: FleetMessage, Hashable {
    public static let messageName = "operator request"
    public static let maxBytes = 16384

    public var v: Int
    /// Correlation id, 1–64 of `[A-Za-z0-9._-]`.
    public var id: String
    /// Operation name, 1–32 of `[a-z0-9._-]`.
    public var op: String
    /// Where the reply goes: `P/v1/ops/reply/{operator}/{id}`.
    public var replyTo: String
    /// Operation arguments, a JSON object (`{}` when absent on the wire).
    public var args: JSONValue

    enum CodingKeys: String, CodingKey {
        case v, id, op, args
        case replyTo = "reply_to"
    }

    public init(id: String, op: String, replyTo: String, args: JSONValue = .emptyObject) {
        self.v = protocolVersion
        self.id = id
        self.op = op
        self.replyTo = replyTo
        self.args = args
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        v = try c.decode(Int.self, forKey: .v)
        id = try c.decode(String.self, forKey: .id)
        op = try c.decode(String.self, forKey: .op)
        replyTo = try c.decode(String.self, forKey: .replyTo)
        args = try c.decodeIfPresent(JSONValue.self, forKey: .args) ?? .emptyObject
    }

    /// Checks that `replyTo` is this request's reply topic for `operatorName` in `tree`: a service
    /// must reply only to the topic of the authenticated operator.
    public func replyTopicMatches(operator operatorName: String, in tree: TopicTree) -> Bool {
        tree.route(replyTo) == .opsReply(operator: operatorName, correlation: id)
    }

    public func validationIssues() -> [ValidationIssue] {
        var l = IssueList()
        l.version(v)
        if let p = Identifier.problem(id) { l.add("id", p) }
        l.token("op", op, 1...32)
        l.length("reply_to", replyTo, 1...512)
        if replyTo.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") || $0 == 0 }) {
            l.add("reply_to", "must not contain '+', '#' or NUL")
        }
        if !args.isObject { l.add("args", "must be a JSON object") }
        return l.issues
    }
}

/// The error part of a failed operator reply.
public struct OperatorErrorBody: Codable, Hashable, Sendable {
    /// Stable code, 1–64 of `[a-z0-9._-]`, e.g. `unknown_device`.
    public var code: String
    /// Human-readable message (never a secret).
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// A reply (or a progress message) on `P/v1/ops/reply/{operator}/{id}`.
public struct OperatorReply: FleetMessage, Hashable {
    public static let messageName = "operator reply"
    public static let maxBytes = 262144

    public var v: Int
    /// The request's correlation id.
    public var id: String
    /// Present on the final reply only.
    public var ok: Bool?
    /// Final reply with `ok: true`: the operation's result.
    public var result: JSONValue?
    /// Final reply with `ok: false`: what failed.
    public var error: OperatorErrorBody?
    /// Progress messages only (no `ok`).
    public var progress: JSONValue?

    public init(
        id: String, ok: Bool?, result: JSONValue? = nil, error: OperatorErrorBody? = nil, progress: JSONValue? = nil
    ) {
        self.v = protocolVersion
        self.id = id
        self.ok = ok
        self.result = result
        self.error = error
        self.progress = progress
    }

    /// A final successful reply.
    public static func success(id: String, result: JSONValue = .emptyObject) -> OperatorReply {
        OperatorReply(id: id, ok: true, result: result)
    }

    /// A final failed reply.
    public static func failure(id: String, code: String, message: String) -> OperatorReply {
        OperatorReply(id: id, ok: false, error: OperatorErrorBody(code: code, message: message))
    }

    /// A progress message (any number may precede the final reply).
    public static func progress(id: String, _ progress: JSONValue) -> OperatorReply {
        OperatorReply(id: id, ok: nil, progress: progress)
    }

    /// True for the final reply (it has `ok`).
    public var isFinal: Bool { ok != nil }

    public func validationIssues() -> [ValidationIssue] {
        var l = IssueList()
        l.version(v)
        if let p = Identifier.problem(id) { l.add("id", p) }
        switch ok {
        case nil:
            if progress == nil { l.add("ok", "is required unless the message is a progress message") }
            if result != nil { l.add("result", "is only allowed on a final reply") }
            if error != nil { l.add("error", "is only allowed on a final reply") }
        case true?:
            if error != nil { l.add("error", "is not allowed when ok is true") }
            if progress != nil { l.add("progress", "is not allowed on a final reply") }
        case false?:
            if error == nil { l.add("error", "is required when ok is false") }
            if result != nil { l.add("result", "is not allowed when ok is false") }
            if progress != nil { l.add("progress", "is not allowed on a final reply") }
        }
        if let error {
            l.token("error.code", error.code, 1...64)
            l.length("error.message", error.message, 0...4096)
        }
        return l.issues
    }
}

/// Plaintext of a `reset` envelope.
public struct ResetCommand: FleetMessage, Hashable {
    public static let messageName = "reset"
    public static let maxBytes = Envelope.maxPlaintextBytes
    public static let hasVersionField = false

    /// Why, 1–64 bytes of text, e.g. `revoked`.
    public var reason: String

    public init(reason: String) { self.reason = reason }

    public func validationIssues() -> [ValidationIssue] {
        var l = IssueList()
        l.length("reason", reason, 1...64)
        l.noControl("reason", reason)
        return l.issues
    }
}
