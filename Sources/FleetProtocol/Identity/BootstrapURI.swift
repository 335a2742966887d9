import Crypto

/// The bootstrap URI printed on labels and QR codes (Topics.md, "Bootstrap URI"):
/// `FB1:I:<id>;K:<base64url key>;[M:<model>;][A:<mac>;]X:<checksum>;;`
public struct BootstrapURI: Sendable, Hashable, CustomStringConvertible {
    public let deviceID: DeviceID
    public let publicKey: Curve25519.KeyAgreement.PublicKey
    /// Optional model, 1–32 of `[A-Za-z0-9._-]`.
    public let model: String?
    /// Optional MAC address, 12 lowercase hex digits without separators.
    public let mac: String?

    /// Builds a URI from its parts.
    /// - Throws: `.invalidIdentifier` for a bad model or MAC.
    public init(
        deviceID: DeviceID, publicKey: Curve25519.KeyAgreement.PublicKey, model: String? = nil, mac: String? = nil
    ) throws(ProtocolError) {
        if let model, let p = Identifier.problem(model, maxLength: 32) {
            throw ProtocolError(.invalidIdentifier, "model \(p)")
        }
        if let mac, !Self.isMAC(mac) {
            throw ProtocolError(.invalidIdentifier, "MAC must be 12 lowercase hex digits without separators")
        }
        self.deviceID = deviceID
        self.publicKey = publicKey
        self.model = model
        self.mac = mac
    }

    /// Parses and checks a URI. Surrounding whitespace is ignored.
    /// - Throws: `.invalidURI` naming what is wrong (prefix, truncation, field order, field value),
    ///   `.checksumMismatch` when the contents do not match `X`.
    public init(parsing text: String) throws(ProtocolError) {
        let s = Array(text.utf8).trimmingASCIIWhitespace()
        if s.count > 256 { throw ProtocolError(.invalidURI, "bootstrap URI is \(s.count) bytes, at most 256 allowed") }
        let magic = Array("FB1:".utf8)
        guard s.starts(with: magic) else {
            if s.starts(with: Array("FB".utf8)) {
                throw ProtocolError(.invalidURI, "unsupported bootstrap URI version (expected 'FB1:')")
            }
            throw ProtocolError(.invalidURI, "not a FleetBootstrap URI (must start with 'FB1:')")
        }
        guard s.count >= magic.count + 2, s.suffix(2).elementsEqual([UInt8(ascii: ";"), UInt8(ascii: ";")]) else {
            throw ProtocolError(.invalidURI, "bootstrap URI is truncated (does not end with ';;')")
        }
        // Fields: everything between "FB1:" and the final ";" is a list of "T:value;" items.
        let body = s[magic.count..<(s.count - 1)]
        var fields: [(tag: UInt8, value: [UInt8], start: Int)] = []
        var position = magic.count
        for item in body.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).dropLast() {
            let start = position
            position += item.count + 1
            guard item.count >= 2, item[item.startIndex + 1] == UInt8(ascii: ":") else {
                throw ProtocolError(
                    .invalidURI, "bootstrap URI has a malformed field at byte \(start) (expected 'T:value;')")
            }
            fields.append((item[item.startIndex], Array(item.dropFirst(2)), start))
        }
        guard let last = fields.last, last.tag == UInt8(ascii: "X") else {
            throw ProtocolError(.invalidURI, "bootstrap URI has no checksum field 'X' at the end (truncated?)")
        }
        let expectedOrder = fields.dropLast().map(\.tag)
        let allowedOrders: [[UInt8]] = [
            Array("IK".utf8), Array("IKM".utf8), Array("IKA".utf8), Array("IKMA".utf8),
        ]
        guard allowedOrders.contains(expectedOrder) else {
            throw ProtocolError(
                .invalidURI,
                "bootstrap URI fields are '\(String(decoding: expectedOrder, as: UTF8.self))'; expected I, K, optional M, optional A, then X"
            )
        }
        let checksum = String(decoding: last.value, as: UTF8.self)
        guard last.value.count == 8, last.value.allSatisfy({ Hex.isHexDigit($0, lowercaseOnly: true) }) else {
            throw ProtocolError(.invalidURI, "bootstrap URI checksum must be 8 lowercase hex digits")
        }
        if Self.checksum(of: Array(s[0..<last.start])) != checksum {
            throw ProtocolError(.checksumMismatch, "bootstrap URI checksum does not match (mistyped or damaged code)")
        }
        var id: DeviceID?
        var key: Curve25519.KeyAgreement.PublicKey?
        var model: String?
        var mac: String?
        for f in fields.dropLast() {
            let value = String(decoding: f.value, as: UTF8.self)
            switch f.tag {
            case UInt8(ascii: "I"):
                do { id = try DeviceID(value) } catch {
                    throw ProtocolError(.invalidURI, "bootstrap URI field I: \(error.message)")
                }
            case UInt8(ascii: "K"):
                guard let raw = Base64URL.decode(value), raw.count == 32,
                    let k = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: raw)
                else { throw ProtocolError(.invalidURI, "bootstrap URI field K is not base64url of a 32-byte key") }
                if X25519KeyCheck.isUnusable(k) {
                    throw ProtocolError(.invalidURI, "bootstrap URI field K is a low-order X25519 point")
                }
                key = k
            case UInt8(ascii: "M"):
                if let p = Identifier.problem(value, maxLength: 32) {
                    throw ProtocolError(.invalidURI, "bootstrap URI field M: model \(p)")
                }
                model = value
            default:
                guard Self.isMAC(value) else {
                    throw ProtocolError(.invalidURI, "bootstrap URI field A must be 12 lowercase hex digits")
                }
                mac = value
            }
        }
        guard let id, let key else { throw ProtocolError(.invalidURI, "bootstrap URI lacks I or K") }
        self.deviceID = id
        self.publicKey = key
        self.model = model
        self.mac = mac
    }

    /// The URI text.
    public var string: String {
        var s = "FB1:I:\(deviceID.rawValue);K:\(Base64URL.encode(publicKey.rawRepresentation));"
        if let model { s += "M:\(model);" }
        if let mac { s += "A:\(mac);" }
        return s + "X:\(Self.checksum(of: Array(s.utf8)));;"
    }

    public var description: String { string }

    /// Fingerprint of the device key.
    public var fingerprint: String { Fingerprint.of(publicKey) }

    /// Lowercase hex of the first 4 bytes of SHA-256 of `bytes`.
    public static func checksum(of bytes: [UInt8]) -> String { Hex.encode(SHA256.hash(data: bytes).prefix(4)) }

    /// Normalises a MAC given as `AA:BB:CC:DD:EE:FF`, `aa-bb-...` or `aabbccddeeff` to 12 lowercase hex; nil if invalid.
    public static func normalizeMAC(_ text: String) -> String? {
        let hex = text.lowercased().utf8.filter { $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "-") }
        let s = String(decoding: hex, as: UTF8.self)
        return isMAC(s) ? s : nil
    }

    static func isMAC(_ s: String) -> Bool {
        s.utf8.count == 12 && s.utf8.allSatisfy { Hex.isHexDigit($0, lowercaseOnly: true) }
    }

    public static func == (a: BootstrapURI, b: BootstrapURI) -> Bool {
        a.deviceID == b.deviceID && a.publicKey.rawRepresentation == b.publicKey.rawRepresentation
            && a.model == b.model && a.mac == b.mac
    }

    public func hash(into h: inout Hasher) {
        h.combine(deviceID)
        h.combine(publicKey.rawRepresentation)
        h.combine(model)
        h.combine(mac)
    }
}

extension Array where Element == UInt8 {
    func trimmingASCIIWhitespace() -> [UInt8] {
        let ws: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
        guard let first = firstIndex(where: { !ws.contains($0) }), let last = lastIndex(where: { !ws.contains($0) })
        else { return [] }
        return Array(self[first...last])
    }
}
