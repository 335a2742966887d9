/// A simulated site or device could not be set up; the message says what failed and shows the
/// output of the process involved.
public struct FleetSimError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
