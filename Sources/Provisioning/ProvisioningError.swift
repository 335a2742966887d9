/// A provisiond failure (registry, broker accounts) with a stable code; the codes that operators
/// can act on are the same strings as the operator reply codes.
public struct ProvisioningError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure; new codes may be added, so do not switch over them exhaustively.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The stable name, e.g. `unknown_device`.
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        // Registry (also operator reply codes, Topics.md "Operator operations").
        public static let unknownDevice = Code("unknown_device")
        public static let unknownProfile = Code("unknown_profile")
        public static let notPending = Code("not_pending")
        public static let keyConflict = Code("key_conflict")
        public static let fingerprintMismatch = Code("fingerprint_mismatch")
        public static let conflictingKeys = Code("conflicting_keys")
        public static let profileInUse = Code("profile_in_use")
        public static let revoked = Code("revoked")
        /// Profile secrets cannot be decrypted: the registry belongs to another service key.
        public static let secretsUnreadable = Code("secrets_unreadable")
        /// The registry file cannot be created, opened, read or written.
        public static let storage = Code("storage")

        // Broker accounts (Mosquitto's dynamic security plugin).
        /// A broker password that the plugin would not accept.
        public static let invalidArgument = Code("invalid_argument")
        /// The broker already has an account with this username (device enrolled before, or a
        /// device id equal to a site account such as `provisiond`).
        public static let alreadyRegistered = Code("already_registered")
        /// The plugin answered a command with an error.
        public static let refused = Code("refused")
        /// The plugin's response is not its JSON.
        public static let malformedResponse = Code("malformed_response")
    }

    public let code: Code
    /// What went wrong; never a secret.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
