/// A fleetctl failure with a stable code: the CLI prints it as one line and exits 1.
///
/// A refusal by provisiond is not one of these: it arrives as the reply's `OperatorError`.
public struct FleetCtlError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure; new codes may be added, so do not switch over them exhaustively.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The stable name, e.g. `no_reply`.
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A flag, file, manifest line, secret or profile the operator gave is unusable.
        public static let invalidInput = Code("invalid_input")
        /// The broker refused the connection, a publish or a subscription.
        public static let broker = Code("broker")
        /// provisiond (or its retained public key) did not answer in time.
        public static let noReply = Code("no_reply")
        /// provisiond answered something fleetctl cannot read.
        public static let badReply = Code("bad_reply")
        /// The service key pin is missing, malformed or does not match the service's key.
        public static let servicePin = Code("service_pin")
        /// A service key file cannot be created.
        public static let keyFile = Code("key_file")
        /// provisiond enrolled another device or key than the operator approved.
        public static let enrollmentMismatch = Code("enrollment_mismatch")
    }

    public let code: Code
    /// One line for the operator: what went wrong and, where it helps, what to do.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A manifest line that cannot be used (line 0: the manifest as a whole).
    public static func manifest(line: Int, _ message: String) -> FleetCtlError {
        FleetCtlError(.invalidInput, "manifest line \(line): \(message)")
    }

    public var description: String { message }
}
