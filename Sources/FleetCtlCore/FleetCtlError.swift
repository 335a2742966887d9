/// A fleetctl failure: one line for the operator.
public struct FleetCtlError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
