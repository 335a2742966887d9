/// MQTT quality of service.
public enum QoS: Int, Sendable, Hashable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2
}

/// The protocol version the client speaks.
public enum MQTTProtocolVersion: Sendable, Hashable {
    case v311
    case v5
}

/// The message the broker publishes when the client goes away without a DISCONNECT.
public struct MQTTWill: Sendable, Hashable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: QoS
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: QoS = .atLeastOnce, retain: Bool = true) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// TLS settings: the broker's certificate must chain to `caFile`.
public struct MQTTTLSOptions: Sendable, Hashable {
    public var caFile: String
    public var certFile: String?
    public var keyFile: String?
    /// Check that the broker certificate names the host we connect to. Leave on outside tests.
    public var verifyHostname: Bool

    public init(caFile: String, certFile: String? = nil, keyFile: String? = nil, verifyHostname: Bool = true) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.verifyHostname = verifyHostname
    }
}

/// Automatic reconnection after a connection that had succeeded is lost.
///
/// The delay before attempt n (0-based) is `min(maxDelay, minDelay * 2^n)`, with ±20 % jitter so
/// that many clients dropped at once do not come back in lockstep. The first `connect()` never
/// retries: it throws, so bad credentials or a wrong address surface at once.
public struct MQTTReconnectPolicy: Sendable, Hashable {
    public var enabled: Bool
    public var minDelay: Duration
    public var maxDelay: Duration

    public init(enabled: Bool = true, minDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(30)) {
        self.enabled = enabled
        self.minDelay = minDelay
        self.maxDelay = maxDelay
    }

    public static let `default` = MQTTReconnectPolicy()
    public static let disabled = MQTTReconnectPolicy(enabled: false)

    /// The delay before reconnect attempt `attempt` (0-based), without jitter.
    public func delay(forAttempt attempt: Int) -> Duration {
        var delay = minDelay
        for _ in 0..<min(max(attempt, 0), 40) {
            delay *= 2
            if delay >= maxDelay { return maxDelay }
        }
        return min(delay, maxDelay)
    }
}

/// Everything needed to reach and log in to a broker.
public struct MQTTConfiguration: Sendable {
    /// Broker address. Use an IP literal: a name is resolved synchronously by libmosquitto.
    public var host: String
    public var port: Int
    /// Connect to a broker's Unix socket (`listener 0 /path/to.sock`) instead of host/port.
    public var unixSocketPath: String?
    public var clientID: String
    public var username: String?
    public var password: String?
    /// Keepalive in seconds (libmosquitto requires at least 5).
    public var keepAlive: Int
    public var cleanSession: Bool
    public var protocolVersion: MQTTProtocolVersion
    public var tls: MQTTTLSOptions?
    public var will: MQTTWill?
    public var reconnect: MQTTReconnectPolicy
    /// High-water mark of the incoming message buffer: when this many messages wait for the
    /// consumer, the client stops reading from the broker until half of them are taken. Not a
    /// hard cap and never a reason to drop a message; see `MQTTMessageStream`.
    public var messageBufferSize: Int
    /// Disable Nagle's algorithm on the socket (libmosquitto's `MOSQ_OPT_TCP_NODELAY`). On by
    /// default: with Nagle, a publish→receive round trip that fits in a few milliseconds waits for
    /// delayed ACKs (measured 87 ms against 4 ms). The broker side is `set_tcp_nodelay true`.
    public var tcpNoDelay: Bool
    /// Publishes handed to libmosquitto and not yet completed, per client. Further publishes wait
    /// in Swift. Keeps 16-bit message ids from colliding; see `PendingOperations`.
    public var maxOutstandingPublishes: Int

    public init(
        host: String = "127.0.0.1", port: Int = 1883, clientID: String, username: String? = nil,
        password: String? = nil, keepAlive: Int = 30, cleanSession: Bool = true,
        protocolVersion: MQTTProtocolVersion = .v311, tls: MQTTTLSOptions? = nil, will: MQTTWill? = nil,
        reconnect: MQTTReconnectPolicy = .default, messageBufferSize: Int = 1024
    ) {
        self.host = host
        self.port = port
        self.unixSocketPath = nil
        self.clientID = clientID
        self.username = username
        self.password = password
        self.keepAlive = keepAlive
        self.cleanSession = cleanSession
        self.protocolVersion = protocolVersion
        self.tls = tls
        self.will = will
        self.reconnect = reconnect
        self.messageBufferSize = messageBufferSize
        self.tcpNoDelay = true
        self.maxOutstandingPublishes = 4096
    }

    /// A configuration for a broker's Unix socket (libmosquitto: host = path, port 0).
    public static func unixSocket(
        path: String, clientID: String, username: String? = nil, password: String? = nil,
        keepAlive: Int = 30, cleanSession: Bool = true, protocolVersion: MQTTProtocolVersion = .v311,
        will: MQTTWill? = nil, reconnect: MQTTReconnectPolicy = .default, messageBufferSize: Int = 1024
    ) -> MQTTConfiguration {
        var configuration = MQTTConfiguration(
            host: path, port: 0, clientID: clientID, username: username, password: password,
            keepAlive: keepAlive, cleanSession: cleanSession, protocolVersion: protocolVersion, will: will,
            reconnect: reconnect, messageBufferSize: messageBufferSize)
        configuration.unixSocketPath = path
        return configuration
    }

    /// Human-readable broker address for error messages.
    var address: String { unixSocketPath ?? "\(host):\(port)" }
}

/// A message received on a subscription (topic and payload copied out of libmosquitto).
public struct MQTTMessage: Sendable, Hashable {
    public let topic: String
    public let payload: [UInt8]
    public let qos: QoS
    public let retain: Bool

    public init(topic: String, payload: [UInt8], qos: QoS, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    /// The payload as UTF-8 text (invalid bytes replaced).
    public var string: String { String(decoding: payload, as: UTF8.self) }
}

/// Where the client is in its life.
public enum MQTTConnectionState: Sendable, Hashable {
    case disconnected
    case connecting
    case connected
    /// The connection was lost; waiting for or trying the next reconnect attempt.
    case reconnecting
    /// `close()` was called; the client is finished.
    case closed
}

/// What went wrong, in terms a caller can act on.
public enum MQTTError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The broker refused the username or password (CONNACK 4 / 0x86).
    case badCredentials
    /// The broker refused the client (CONNACK 5 / 0x87).
    case notAuthorized
    /// The broker could not be reached (refused, no route, TLS failure...).
    case unreachable(String)
    /// Another CONNACK refusal code.
    case connectionRefused(code: Int)
    /// The broker refused a subscription (SUBACK 0x80 or a v5 failure code).
    case subscriptionRefused(filter: String)
    /// The broker refused a publish: a v5 failure reason code (≥ 0x80), or 0x95 for a packet over
    /// the maximum size the broker announced. Never retried.
    case publishRejected(reasonCode: Int)
    /// The operation needs a connection and there is none (yet, or any more).
    case notConnected
    /// The client was closed.
    case closed
    case timeout
    case invalidArgument(String)
    /// Any other libmosquitto error.
    case mosquitto(code: Int, message: String)

    /// MQTT 5 PUBACK failure reason codes (MQTT 5.0 section 3.4.2.1).
    private static let publishReasons: [Int: String] = [
        0x80: "unspecified error", 0x83: "implementation specific error, e.g. payload over message_size_limit",
        0x87: "not authorized", 0x90: "topic name invalid", 0x91: "packet identifier in use",
        0x95: "packet too large", 0x97: "quota exceeded", 0x99: "payload format invalid",
    ]

    public var description: String {
        switch self {
        case .badCredentials: return "broker refused the username or password"
        case .notAuthorized: return "broker refused the client: not authorized"
        case .unreachable(let detail): return "broker unreachable: \(detail)"
        case .connectionRefused(let code): return "broker refused the connection (code \(code))"
        case .subscriptionRefused(let filter): return "broker refused the subscription to \(filter)"
        case .publishRejected(let code):
            let reason = Self.publishReasons[code].map { ": \($0)" } ?? ""
            return "broker rejected the publish (reason code 0x\(String(code, radix: 16))\(reason)); not retried"
        case .notConnected: return "not connected to the broker"
        case .closed: return "the MQTT client is closed"
        case .timeout: return "timed out waiting for the broker"
        case .invalidArgument(let detail): return "invalid argument: \(detail)"
        case .mosquitto(let code, let message): return "libmosquitto error \(code): \(message)"
        }
    }
}
