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
    /// Stable category of the failure.
    public enum Code: String, Hashable, Sendable {
        /// A device id, correlation id, operator name, model or prefix breaks its charset or length rule.
        case invalidIdentifier = "invalid_identifier"
        /// A topic does not belong to the tree or cannot be built.
        case invalidTopic = "invalid_topic"
        /// The payload is larger than the limit of its kind (checked before parsing).
        case tooLarge = "too_large"
        /// The bytes are not a JSON object (syntax error, not UTF-8, or not an object).
        case malformedJSON = "malformed_json"
        /// A required field is missing.
        case missingField = "missing_field"
        /// A field has the wrong JSON type, or an enumerated string has an unknown value.
        case wrongType = "wrong_type"
        /// A field is present with the right type but breaks a rule (see `issues`).
        case invalidField = "invalid_field"
        /// A binary field is not canonical unpadded base64url or has the wrong length.
        case badBase64 = "bad_base64"
        /// A bootstrap URI is malformed or truncated.
        case invalidURI = "invalid_uri"
        /// A bootstrap URI's checksum does not match its contents.
        case checksumMismatch = "checksum_mismatch"
        /// A key file cannot be read, written or parsed, or has unsafe permissions.
        case keyFile = "key_file"
        /// A cryptographic operation failed (for example a low-order public key).
        case crypto = "crypto"
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
