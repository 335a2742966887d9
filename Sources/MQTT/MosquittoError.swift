internal import CMosquitto
import Glibc

/// Text for libmosquitto result codes. `mosquitto_strerror` answers "Unknown error." for several
/// codes in 2.0.11, and MOSQ_ERR_ERRNO needs the errno captured right after the failing call.
enum MosquittoResult {
    static func message(code: Int32, errno savedErrno: Int32) -> String {
        switch code {
        case MOSQ_ERR_ERRNO.rawValue: return String(cString: strerror(savedErrno))
        case MOSQ_ERR_NOMEM.rawValue: return "out of memory"
        case MOSQ_ERR_PROTOCOL.rawValue: return "protocol error"
        case MOSQ_ERR_INVAL.rawValue: return "invalid input"
        case MOSQ_ERR_NO_CONN.rawValue: return "not connected"
        case MOSQ_ERR_CONN_REFUSED.rawValue: return "connection refused by broker"
        case MOSQ_ERR_NOT_FOUND.rawValue: return "not found"
        case MOSQ_ERR_CONN_LOST.rawValue: return "connection lost"
        case MOSQ_ERR_TLS.rawValue: return "TLS error (certificate or handshake)"
        case MOSQ_ERR_PAYLOAD_SIZE.rawValue: return "payload too large"
        case MOSQ_ERR_NOT_SUPPORTED.rawValue: return "not supported"
        case MOSQ_ERR_AUTH.rawValue: return "authentication failed"
        case MOSQ_ERR_ACL_DENIED.rawValue: return "access denied"
        case MOSQ_ERR_EAI.rawValue: return "address lookup failed"
        case MOSQ_ERR_KEEPALIVE.rawValue: return "keepalive timeout: broker did not answer"
        case MOSQ_ERR_LOOKUP.rawValue: return "address lookup failed"
        case MOSQ_ERR_MALFORMED_UTF8.rawValue: return "malformed UTF-8 in topic"
        case MOSQ_ERR_MALFORMED_PACKET.rawValue: return "malformed packet"
        case MOSQ_ERR_TLS_HANDSHAKE.rawValue: return "TLS handshake failed"
        case MOSQ_ERR_OVERSIZE_PACKET.rawValue: return "packet larger than the broker allows"
        case MOSQ_ERR_QOS_NOT_SUPPORTED.rawValue: return "QoS not supported by broker"
        case MOSQ_ERR_TIMEOUT.rawValue: return "timeout"
        default:
            let text = String(cString: mosquitto_strerror(code))
            return text == "Unknown error." ? "unknown libmosquitto error" : text
        }
    }

    static func error(code: Int32, errno savedErrno: Int32) -> MQTTError {
        switch code {
        case MOSQ_ERR_NO_CONN.rawValue: return .notConnected
        case MOSQ_ERR_INVAL.rawValue: return .invalidArgument("libmosquitto rejected the arguments")
        case MOSQ_ERR_MALFORMED_UTF8.rawValue: return .invalidArgument("topic is not valid UTF-8")
        case MOSQ_ERR_PAYLOAD_SIZE.rawValue, MOSQ_ERR_OVERSIZE_PACKET.rawValue:
            return .invalidArgument("payload too large")
        default: return .mosquitto(code: Int(code), message: message(code: code, errno: savedErrno))
        }
    }

    /// Like `error(code:errno:)`, for `mosquitto_publish_v5`. With MQTT 5 the broker announces its
    /// maximum packet size in CONNACK and libmosquitto refuses a larger publish before sending it:
    /// that is the broker's refusal, reported as its reason code 0x95 (packet too large) so callers
    /// see one error for it whichever side noticed.
    static func publishError(code: Int32, errno savedErrno: Int32) -> MQTTError {
        if code == MOSQ_ERR_OVERSIZE_PACKET.rawValue {
            return .publishRejected(reasonCode: Int(MQTT_RC_PACKET_TOO_LARGE.rawValue))
        }
        return error(code: code, errno: savedErrno)
    }

    /// Maps a CONNACK code (v3.1.1 return code or v5 reason code) to an error.
    ///
    /// mosquitto 2.x answers a wrong username or password with "not authorized" (5 / 0x87), not
    /// with "bad username or password" (4 / 0x86); it uses the same code for a missing login when
    /// anonymous access is off. So a "not authorized" refusal of a client that *did* send a
    /// username is reported as `badCredentials`, which is what the caller can act on.
    static func connackError(_ code: Int32, sentUsername: Bool) -> MQTTError {
        let badCredentials = Int32(MQTT_RC_BAD_USERNAME_OR_PASSWORD.rawValue)
        let notAuthorized = Int32(MQTT_RC_NOT_AUTHORIZED.rawValue)
        switch code {
        case Int32(CONNACK_REFUSED_BAD_USERNAME_PASSWORD.rawValue), badCredentials: return .badCredentials
        case Int32(CONNACK_REFUSED_NOT_AUTHORIZED.rawValue), notAuthorized:
            return sentUsername ? .badCredentials : .notAuthorized
        default: return .connectionRefused(code: Int(code))
        }
    }
}
