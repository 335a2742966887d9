/// Security modes of a premises network, named as OpenWRT's uci `wireless.*.encryption`.
public enum WiFiEncryption: String, WireEnum {
    case none, owe, psk, psk2
    case pskMixed = "psk-mixed"
    case sae
    case saeMixed = "sae-mixed"
    case wpa2, wpa3

    /// Modes that take a pre-shared key / SAE password in `key`.
    public var usesKey: Bool {
        switch self {
        case .psk, .psk2, .pskMixed, .sae, .saeMixed: true
        case .none, .owe, .wpa2, .wpa3: false
        }
    }

    /// WPA-Enterprise modes (`eap_type`, `identity`, ...).
    public var isEnterprise: Bool { self == .wpa2 || self == .wpa3 }
}

/// EAP methods for WPA-Enterprise.
public enum EAPType: String, WireEnum {
    case peap, ttls, tls

    /// Methods that authenticate with `password`.
    public var usesPassword: Bool { self != .tls }
}

/// Premises Wi-Fi settings: the plaintext of a `wifi` envelope.
///
/// `description` and `debugDescription` redact the key and password, so a profile can be logged.
public struct WiFiProfile: FleetMessage, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public static let messageName = "Wi-Fi profile"
    public static let maxBytes = Envelope.maxPlaintextBytes
    public static let hasVersionField = false

    public static let maxSSIDBytes = 32
    public static let maxEAPFieldBytes = 128
    public static let maxCACertBytes = 4096

    public var ssid: String
    public var encryption: WiFiEncryption
    /// PSK/SAE key; absent for other modes. Secret.
    public var key: String?
    public var hidden: Bool?
    /// `aa:bb:cc:dd:ee:ff`
    public var bssid: String?
    public var eapType: EAPType?
    public var identity: String?
    /// EAP password (PEAP/TTLS). Secret.
    public var password: String?
    /// PEM CA certificate for enterprise networks.
    public var caCert: String?

    enum CodingKeys: String, CodingKey {
        case ssid, encryption, key, hidden, bssid, identity, password
        case eapType = "eap_type"
        case caCert = "ca_cert"
    }

    public init(
        ssid: String, encryption: WiFiEncryption, key: String? = nil, hidden: Bool? = nil, bssid: String? = nil,
        eapType: EAPType? = nil, identity: String? = nil, password: String? = nil, caCert: String? = nil
    ) {
        self.ssid = ssid
        self.encryption = encryption
        self.key = key
        self.hidden = hidden
        self.bssid = bssid
        self.eapType = eapType
        self.identity = identity
        self.password = password
        self.caCert = caCert
    }

    /// Every rule of Topics.md ("Wi-Fi profile") this profile breaks, each with its field name.
    /// Messages never contain the key or password.
    public func validate() -> [ValidationIssue] { validationIssues() }

    public func validationIssues() -> [ValidationIssue] {
        var l = IssueList()
        let ssidBytes = ssid.utf8.count
        if ssidBytes == 0 { l.add("ssid", "is empty") }
        if ssidBytes > Self.maxSSIDBytes {
            l.add("ssid", "is \(ssidBytes) bytes in UTF-8, at most \(Self.maxSSIDBytes) allowed")
        }
        // The agent's rule too (agent/src/profile.c): uci's file and batch syntax cannot carry a control character.
        l.noControl("ssid", ssid)

        if encryption.usesKey {
            if let key {
                if let p = Self.keyProblem(key) { l.add("key", p) }
            } else {
                l.add("key", "is required for encryption \(encryption.rawValue)")
            }
        } else if key != nil {
            l.add("key", "must be absent for encryption \(encryption.rawValue)")
        }

        if let bssid, !Self.isBSSID(bssid) { l.add("bssid", "must look like aa:bb:cc:dd:ee:ff") }

        if encryption.isEnterprise {
            if eapType == nil { l.add("eap_type", "is required for encryption \(encryption.rawValue)") }
            if let identity {
                l.length("identity", identity, 1...Self.maxEAPFieldBytes)
                l.noControl("identity", identity)
            } else {
                l.add("identity", "is required for encryption \(encryption.rawValue)")
            }
            if let eapType, eapType.usesPassword {
                if let password {
                    let n = password.utf8.count
                    if n < 1 || n > Self.maxEAPFieldBytes {
                        l.add("password", "is \(n) bytes, must be 1–\(Self.maxEAPFieldBytes)")
                    }
                    l.noControl("password", password)
                } else {
                    l.add("password", "is required for eap_type \(eapType.rawValue)")
                }
            } else if let eapType, password != nil {
                l.add("password", "must be absent for eap_type \(eapType.rawValue)")
            }
            if let caCert {
                let n = caCert.utf8.count
                if n > Self.maxCACertBytes { l.add("ca_cert", "is \(n) bytes, at most \(Self.maxCACertBytes) allowed") }
                if !caCert.hasPrefix("-----BEGIN ") || caCert.utf8.contains(0) {
                    l.add("ca_cert", "must be a PEM text starting with '-----BEGIN '")
                }
            }
        } else {
            for (field, present) in [
                ("eap_type", eapType != nil), ("identity", identity != nil), ("password", password != nil),
                ("ca_cert", caCert != nil),
            ] where present {
                l.add(field, "is only allowed for encryption wpa2 or wpa3")
            }
        }
        return l.issues
    }

    /// Nil when `key` is 8–63 printable ASCII or exactly 64 hex digits; else the problem (never the key).
    static func keyProblem(_ key: String) -> String? {
        let b = Array(key.utf8)
        if b.count == 64 {
            return b.allSatisfy({ Hex.isHexDigit($0) }) ? nil : "is 64 characters but not all hex digits"
        }
        if b.count < 8 || b.count > 63 {
            return "is \(b.count) bytes, must be 8–63 printable ASCII or 64 hex digits"
        }
        if b.contains(where: { $0 < 0x20 || $0 > 0x7E }) { return "must be printable ASCII (0x20–0x7E)" }
        return nil
    }

    static func isBSSID(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 17 else { return false }
        for (i, c) in b.enumerated() {
            if i % 3 == 2 {
                if c != UInt8(ascii: ":") { return false }
            } else if !Hex.isHexDigit(c) {
                return false
            }
        }
        return true
    }

    public var description: String {
        var parts = ["ssid: \(printable(ssid))", "encryption: \(encryption.rawValue)"]
        if key != nil { parts.append("key: <redacted>") }
        if let hidden { parts.append("hidden: \(hidden)") }
        if let bssid { parts.append("bssid: \(printable(bssid))") }
        if let eapType { parts.append("eap_type: \(eapType.rawValue)") }
        if let identity { parts.append("identity: \(printable(identity))") }
        if password != nil { parts.append("password: <redacted>") }
        if caCert != nil { parts.append("ca_cert: <PEM>") }
        return "WiFiProfile(" + parts.joined(separator: ", ") + ")"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(
            self,
            children: ["ssid": ssid, "encryption": encryption, "key": key == nil ? "nil" : "<redacted>"],
            displayStyle: .struct)
    }
}
