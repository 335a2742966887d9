/// A request from an operator on `P/v1/ops/request/{operator}`.
public struct OperatorRequest: FleetMessage, Hashable {
    public static let messageName = "operator request"
    public static let maxBytes = 16384

    public var v: Int
    /// Correlation id, 1–64 of `[A-Za-z0-9._-]`.
    public var id: String
    public var op: OperatorOp
    /// Where the reply goes: `P/v1/ops/reply/{operator}/{id}`.
    public var replyTo: String
    /// Operation arguments, a JSON object (`{}` when absent on the wire); decode them with
    /// ``arguments(_:)``.
    public var args: JSONValue
    /// The site the operator means (`fleetctl --site`): a provisiond serving another site refuses the
    /// request with `wrong_site`. Absent: whichever site this broker's provisiond serves.
    public var site: String?

    enum CodingKeys: String, CodingKey {
        case v, id, op, args, site
        case replyTo = "reply_to"
    }

    public init(id: String, op: OperatorOp, replyTo: String, args: JSONValue = .emptyObject, site: String? = nil) {
        self.v = protocolVersion
        self.id = id
        self.op = op
        self.replyTo = replyTo
        self.args = args
        self.site = site
    }

    /// A request carrying typed arguments.
    public init(
        id: String, op: OperatorOp, replyTo: String, arguments: some Encodable, site: String? = nil
    ) throws(ProtocolError) {
        self.init(id: id, op: op, replyTo: replyTo, args: try JSONValue(encoding: arguments), site: site)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        v = try c.decode(Int.self, forKey: .v)
        id = try c.decode(String.self, forKey: .id)
        op = try c.decode(OperatorOp.self, forKey: .op)
        replyTo = try c.decode(String.self, forKey: .replyTo)
        args = try c.decodeIfPresent(JSONValue.self, forKey: .args) ?? .emptyObject
        site = try c.decodeIfPresent(String.self, forKey: .site)
    }

    /// The arguments decoded as the operation's argument type, with its rules checked.
    /// - Throws: `ProtocolError` naming the missing, mistyped or invalid field (`.invalidIdentifier`
    ///   for a device id that breaks the id rules).
    public func arguments<Args: Decodable>(_ type: Args.Type) throws(ProtocolError) -> Args {
        try args.decode(Args.self)
    }

    /// Checks that `replyTo` is this request's reply topic for `operatorName` in `tree`: a service
    /// must reply only to the topic of the authenticated operator.
    public func replyTopicMatches(operator operatorName: String, in tree: TopicTree) -> Bool {
        Self.replyTopic(replyTo, matches: operatorName, correlation: id, in: tree)
    }

    /// Whether `replyTo` is exactly `P/v1/ops/reply/{operatorName}/{correlation}` in `tree`.
    public static func replyTopic(
        _ replyTo: String, matches operatorName: String, correlation: String, in tree: TopicTree
    ) -> Bool {
        tree.route(replyTo) == .opsReply(operator: operatorName, correlation: correlation)
    }

    public func validationIssues() -> [ValidationIssue] {
        var l = IssueList()
        l.version(v)
        if let p = Identifier.problem(id) { l.add("id", p) }
        l.length("reply_to", replyTo, 1...512)
        if replyTo.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") || $0 == 0 }) {
            l.add("reply_to", "must not contain '+', '#' or NUL")
        }
        if !args.isObject { l.add("args", "must be a JSON object") }
        if let site, let p = Identifier.siteProblem(site) { l.add("site", p) }
        return l.issues
    }

    /// The fields a service reads before it can answer at all, decoded without any rule: a request
    /// with an unsupported `v` or an unknown `op` still gets its error reply on its reply topic.
    public struct Header: Decodable, Hashable, Sendable {
        public var v: Int
        public var id: String
        public var op: String
        public var replyTo: String
        /// The site the request is for, if it names one (a string or nothing when it is not one).
        public var site: String?

        enum CodingKeys: String, CodingKey {
            case v, id, op, site
            case replyTo = "reply_to"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            v = try c.decode(Int.self, forKey: .v)
            id = try c.decode(String.self, forKey: .id)
            op = try c.decode(String.self, forKey: .op)
            replyTo = try c.decode(String.self, forKey: .replyTo)
            site = try? c.decodeIfPresent(String.self, forKey: .site)
        }

        /// The header of `payload`, or nil when it is too large, not JSON or lacks a field.
        public init?(_ payload: [UInt8]) {
            guard payload.count <= OperatorRequest.maxBytes,
                let header = try? MessageCodec.jsonDecode(Header.self, from: payload, context: messageName)
            else { return nil }
            self = header
        }
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
    public var error: OperatorError?
    /// Progress messages only (no `ok`).
    public var progress: JSONValue?

    public init(
        id: String, ok: Bool?, result: JSONValue? = nil, error: OperatorError? = nil, progress: JSONValue? = nil
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

    /// A final successful reply with a typed result.
    public static func success(id: String, result: some Encodable) throws(ProtocolError) -> OperatorReply {
        OperatorReply(id: id, ok: true, result: try JSONValue(encoding: result))
    }

    /// A final failed reply.
    public static func failure(id: String, _ error: OperatorError) -> OperatorReply {
        OperatorReply(id: id, ok: false, error: error)
    }

    /// A progress message (any number may precede the final reply).
    public static func progress(id: String, _ progress: JSONValue) -> OperatorReply {
        OperatorReply(id: id, ok: nil, progress: progress)
    }

    /// True for the final reply (it has `ok`).
    public var isFinal: Bool { ok != nil }

    /// The result of a final reply decoded as `Result`.
    /// - Throws: the reply's ``OperatorError`` when it failed; `ProtocolError` when it is not a final
    ///   reply or its result does not decode as `Result`.
    public func decodeResult<Result: Decodable>(_ type: Result.Type) throws -> Result {
        if let error { throw error }
        guard ok == true else { throw ProtocolError(.missingField, "\(Self.messageName) is not a final reply") }
        return try (result ?? .emptyObject).decode(Result.self)
    }

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
        if let error { l.length("error.message", error.message, 0...OperatorError.maxMessageBytes) }
        return l.issues
    }
}
