import FleetProtocol
import Logging

/// A log handler that escapes every control character in messages and metadata values before
/// handing them to `base` (``EscapedText``): text from devices and operators (ids, reply topics,
/// error descriptions quoting payloads) can neither forge a log line nor drive a terminal.
public struct EscapingLogHandler: LogHandler {
    public var base: any LogHandler

    public init(_ base: any LogHandler) { self.base = base }

    public var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue.mapValues(Self.escape) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue.map(Self.escape) }
    }

    public func log(event: LogEvent) {
        var escaped = event
        escaped.message = "\(EscapedText.escape(event.message.description))"
        escaped.metadata = event.metadata?.mapValues(Self.escape)
        escaped.error = event.error.map { EscapedError(description: EscapedText.escape("\($0)")) }
        base.log(event: escaped)
    }

    static func escape(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(EscapedText.escape(text))
        case .stringConvertible(let object): .string(EscapedText.escape(object.description))
        case .dictionary(let entries): .dictionary(entries.mapValues(escape))
        case .array(let values): .array(values.map(escape))
        }
    }
}

/// An error as its escaped description, for handlers that print the error of a log event.
struct EscapedError: Error, CustomStringConvertible {
    let description: String
}
