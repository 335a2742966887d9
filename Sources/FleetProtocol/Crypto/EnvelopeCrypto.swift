import Crypto
import Foundation

/// An envelope that opened, with its plaintext.
public struct OpenedEnvelope: Sendable, Hashable {
    public let envelope: Envelope
    public let plaintext: [UInt8]
}

/// Seals and opens config envelopes: HPKE (RFC 9180) auth mode, DHKEM(X25519, HKDF-SHA256),
/// HKDF-SHA256, ChaCha20-Poly1305, with info and AAD binding version, kind, seq and device id.
public enum EnvelopeCrypto {
    /// The one ciphersuite of protocol version 1.
    public static let ciphersuite = HPKE.Ciphersuite(kem: .Curve25519_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .chaChaPoly)

    /// ASCII label that starts `info` (22 bytes).
    public static let infoLabel: [UInt8] = Array("fleetbootstrap-v1 info".utf8)
    /// ASCII label that starts `aad` (21 bytes).
    public static let aadLabel: [UInt8] = Array("fleetbootstrap-v1 aad".utf8)

    /// The context bytes: version (0x01) ‖ kind ‖ seq (u64 big-endian) ‖ u8 len(id) ‖ id.
    public static func context(kind: PayloadKind, seq: UInt64, device: DeviceID) -> [UInt8] {
        let id = Array(device.rawValue.utf8)
        var ctx: [UInt8] = [UInt8(protocolVersion), kind.contextByte]
        ctx.reserveCapacity(11 + id.count)
        for shift in stride(from: 56, through: 0, by: -8) {
            ctx.append(UInt8(truncatingIfNeeded: seq >> UInt64(shift)))
        }
        ctx.append(UInt8(id.count))
        ctx.append(contentsOf: id)
        return ctx
    }

    /// HPKE `info` = "fleetbootstrap-v1 info" ‖ context.
    public static func info(kind: PayloadKind, seq: UInt64, device: DeviceID) -> [UInt8] {
        infoLabel + context(kind: kind, seq: seq, device: device)
    }

    /// HPKE `aad` = "fleetbootstrap-v1 aad" ‖ context.
    public static func aad(kind: PayloadKind, seq: UInt64, device: DeviceID) -> [UInt8] {
        aadLabel + context(kind: kind, seq: seq, device: device)
    }

    /// Seals `plaintext` for `device`.
    /// - Throws: `.invalidField` for a seq outside 1…2^53−1 or a plaintext outside 1…8192 bytes,
    ///   `.crypto` when HPKE refuses the keys.
    public static func seal(
        plaintext: [UInt8], kind: PayloadKind, seq: UInt64, device: DeviceID,
        devicePublicKey: Curve25519.KeyAgreement.PublicKey, servicePrivateKey: Curve25519.KeyAgreement.PrivateKey
    ) throws(ProtocolError) -> Envelope {
        guard seq >= 1 && seq <= maxJSONSafeInteger else {
            throw ProtocolError(.invalidField, "envelope seq \(seq) is outside 1…2^53−1")
        }
        guard !plaintext.isEmpty && plaintext.count <= Envelope.maxPlaintextBytes else {
            throw ProtocolError(
                .tooLarge, "envelope plaintext is \(plaintext.count) bytes, must be 1–\(Envelope.maxPlaintextBytes)")
        }
        if X25519KeyCheck.isUnusable(devicePublicKey) {
            throw ProtocolError(.crypto, "device public key of '\(device)' is a low-order X25519 point")
        }
        do {
            var sender = try HPKE.Sender(
                recipientKey: devicePublicKey, ciphersuite: ciphersuite,
                info: Data(info(kind: kind, seq: seq, device: device)), authenticatedBy: servicePrivateKey)
            let ct = try sender.seal(plaintext, authenticating: aad(kind: kind, seq: seq, device: device))
            return Envelope(
                kind: kind, device: device, seq: seq, kid: Fingerprint.of(servicePrivateKey.publicKey),
                enc: Array(sender.encapsulatedKey), ct: Array(ct))
        } catch {
            throw ProtocolError(.crypto, "HPKE seal failed for device '\(device)'")
        }
    }

    /// Seals a Wi-Fi profile (validated first; never seals an invalid profile).
    public static func seal(
        profile: WiFiProfile, seq: UInt64, device: DeviceID,
        devicePublicKey: Curve25519.KeyAgreement.PublicKey, servicePrivateKey: Curve25519.KeyAgreement.PrivateKey
    ) throws(ProtocolError) -> Envelope {
        try seal(
            plaintext: MessageCodec.encode(profile), kind: .wifi, seq: seq, device: device,
            devicePublicKey: devicePublicKey, servicePrivateKey: servicePrivateKey)
    }

    /// Seals a reset command.
    public static func seal(
        reset: ResetCommand, seq: UInt64, device: DeviceID,
        devicePublicKey: Curve25519.KeyAgreement.PublicKey, servicePrivateKey: Curve25519.KeyAgreement.PrivateKey
    ) throws(ProtocolError) -> Envelope {
        try seal(
            plaintext: MessageCodec.encode(reset), kind: .reset, seq: seq, device: device,
            devicePublicKey: devicePublicKey, servicePrivateKey: servicePrivateKey)
    }

    /// Opens a decoded envelope as the device `device`.
    ///
    /// Checks in the receiver order of Topics.md: structure, suite, device, kid, replay (when
    /// `highestAppliedSeq` is given), then HPKE open with the context built from `device` and the
    /// envelope's kind and seq.
    /// - Throws: `EnvelopeError`; every cryptographic failure is `.openFailed`.
    public static func open(
        _ e: Envelope, device: DeviceID, devicePrivateKey: Curve25519.KeyAgreement.PrivateKey,
        servicePublicKey: Curve25519.KeyAgreement.PublicKey, highestAppliedSeq: UInt64? = nil
    ) throws(EnvelopeError) -> [UInt8] {
        let issues = e.structuralIssues().issues
        if !issues.isEmpty { throw .malformed(issues.map(\.description).joined(separator: "; ")) }
        if !e.hasSupportedSuite { throw .unsupportedSuite(kem: e.kem, kdf: e.kdf, aead: e.aead) }
        if e.device != device { throw .wrongDevice(expected: device, found: e.device) }
        if e.kid != Fingerprint.of(servicePublicKey) { throw .kidMismatch }
        if let highestAppliedSeq, e.seq <= highestAppliedSeq {
            throw .replay(seq: e.seq, highestApplied: highestAppliedSeq)
        }
        // A small-order `enc` makes DH(skR, enc) all zeros (swift-crypto does not refuse that).
        if X25519KeyCheck.isUnusable(e.enc.bytes) { throw .openFailed }
        do {
            var recipient = try HPKE.Recipient(
                privateKey: devicePrivateKey, ciphersuite: ciphersuite,
                info: Data(info(kind: e.kind, seq: e.seq, device: device)), encapsulatedKey: Data(e.enc.bytes),
                authenticatedBy: servicePublicKey)
            return Array(try recipient.open(e.ct.bytes, authenticating: aad(kind: e.kind, seq: e.seq, device: device)))
        } catch {
            // swift-crypto reports AEAD failures as CryptoKitError and KEM failures as HPKE errors;
            // both mean the same to a receiver.
            throw .openFailed
        }
    }

    /// Opens a raw config payload as the device `device`, with every receiver check of Topics.md
    /// except profile validation: size, JSON and fields, suite, device (and the topic's `{id}`), kid,
    /// replay, HPKE. An empty payload (a cleared retained config) is not an envelope: callers skip it
    /// before calling (Topics.md, receiver check 0); here it is `.malformed`.
    /// - Parameters:
    ///   - topicDevice: the `{id}` of the topic the payload arrived on, when known.
    ///   - highestAppliedSeq: the persisted highest applied seq; nil skips the replay check.
    public static func open(
        payload: [UInt8], device: DeviceID, topicDevice: DeviceID? = nil,
        devicePrivateKey: Curve25519.KeyAgreement.PrivateKey, servicePublicKey: Curve25519.KeyAgreement.PublicKey,
        highestAppliedSeq: UInt64? = nil
    ) throws(EnvelopeError) -> OpenedEnvelope {
        if payload.count > Envelope.maxBytes { throw .tooLarge(bytes: payload.count) }
        let envelope: Envelope
        do {
            envelope = try MessageCodec.decodeUnvalidated(Envelope.self, from: payload)
        } catch {
            throw .malformed(error.message)
        }
        if let topicDevice, topicDevice != device { throw .wrongDevice(expected: device, found: topicDevice) }
        let plaintext = try open(
            envelope, device: device, devicePrivateKey: devicePrivateKey, servicePublicKey: servicePublicKey,
            highestAppliedSeq: highestAppliedSeq)
        return OpenedEnvelope(envelope: envelope, plaintext: plaintext)
    }
}
