/// One problem found while validating a message or profile: the field it concerns and what is wrong.
///
/// Messages never contain secret values, so they are safe to log and to show to operators.
public struct ValidationIssue: Hashable, Sendable, CustomStringConvertible {
    /// The JSON field name (for nested values a dotted path, e.g. `error.code`).
    public let field: String
    /// What is wrong, in plain words.
    public let message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// The error of every FleetProtocol parser and validator: a stable code plus a clear message.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable category of the failure; new codes may be added, so do not switch over them exhaustively.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The stable name, e.g. `invalid_identifier`.
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A device id, correlation id, operator name, model or prefix breaks its charset or length rule.
        public static let invalidIdentifier = Code("invalid_identifier")
        /// A topic does not belong to the tree or cannot be built.
        public static let invalidTopic = Code("invalid_topic")
        /// The payload is larger than the limit of its kind (checked before parsing).
        public static let tooLarge = Code("too_large")
        /// The bytes are not a JSON object (syntax error, not UTF-8, or not an object).
        public static let malformedJSON = Code("malformed_json")
        /// A required field is missing.
        public static let missingField = Code("missing_field")
        /// A field has the wrong JSON type, or an enumerated string has an unknown value.
        public static let wrongType = Code("wrong_type")
        /// A field is present with the right type but breaks a rule (see `issues`).
        public static let invalidField = Code("invalid_field")
        /// A binary field is not canonical unpadded base64url or has the wrong length.
        public static let badBase64 = Code("bad_base64")
        /// A bootstrap URI is malformed or truncated.
        public static let invalidURI = Code("invalid_uri")
        /// A bootstrap URI's checksum does not match its contents.
        public static let checksumMismatch = Code("checksum_mismatch")
        /// A key file cannot be read, written or parsed, or has unsafe permissions.
        public static let keyFile = Code("key_file")
        /// A cryptographic operation failed (for example a low-order public key).
        public static let crypto = Code("crypto")
    }

    public let code: Code
    /// Human-readable explanation; never contains a secret.
    public let message: String
    /// Every rule violation found, when `code` is `.invalidField` (may be empty otherwise).
    public let issues: [ValidationIssue]

    public init(_ code: Code, _ message: String, issues: [ValidationIssue] = []) {
        self.code = code
        self.message = message
        self.issues = issues
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
