import Crypto
import FleetProtocol
import Foundation

/// What the engine asks its I/O shell to do, in order.
public enum EngineAction: Sendable, Hashable {
    /// Publish `payload` as the retained config of `device` (QoS 1).
    case publishConfig(device: DeviceID, payload: [UInt8])
    /// Publish an empty retained message on the config topic of `device`, clearing it.
    case clearConfig(device: DeviceID)
    /// Publish an audit event on `P/v1/events` (already stored in the audit log).
    case publishEvent(AuditRecord)
    /// Publish an operator reply on `topic`.
    case reply(topic: String, payload: [UInt8])
    /// Create the device's broker account (dynamic security; password derived from its key).
    case registerBrokerAccount(device: DeviceID, publicKey: Data)
    /// Delete the device's broker account.
    case removeBrokerAccount(device: DeviceID)
}

/// The provisioning decisions: events in, actions out, with the registry as the only state.
///
/// No broker here: the service shell decodes messages into calls on this type and performs the
/// returned actions. Several engines (several provisiond processes) may share one registry: every
/// decision that allocates a seq does so inside one registry transaction.
public final class ProvisioningEngine: Sendable {
    public let registry: Registry
    private let identity: ServiceIdentity
    private let topics: TopicTree
    private let now: @Sendable () -> Int64

    /// - Parameters:
    ///   - identity: the service key pair that seals envelopes and opens operator secrets.
    ///   - topics: the topic tree, to check operator reply topics.
    ///   - now: the clock, Unix seconds; injected for tests.
    public init(
        registry: Registry, identity: ServiceIdentity, topics: TopicTree,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.registry = registry
        self.identity = identity
        self.topics = topics
        self.now = now
    }

    // MARK: - Start

    /// Republishes every envelope that was never acknowledged: a broker killed hard loses the
    /// retained messages written since its last autosave, and the device would wait forever.
    public func reconcile() throws -> [EngineAction] {
        try registry.unacknowledgedDevices().compactMap { device in
            guard let envelope = device.envelope else { return nil }
            return .publishConfig(device: try DeviceID(device.id), payload: Array(envelope.utf8))
        }
    }

    // MARK: - Devices

    /// A validated hello: `device` equals the topic's id, `publicKey` is its 32-byte X25519 key.
    public func hello(device id: DeviceID, publicKey: Data) throws -> [EngineAction] {
        let t = now()
        let fingerprint = Fingerprint.of(rawPublicKey: Array(publicKey))
        guard let device = try registry.device(id.rawValue) else {
            let previous = try registry.pendingDevices().first { $0.id == id.rawValue }
            let pending = try registry.recordPending(
                id: id.rawValue, publicKey: publicKey, fingerprint: fingerprint, now: t)
            // One event per new device or new key, not one per retried hello.
            guard previous?.publicKey != publicKey else { return [] }
            return [
                try audit(
                    .devicePending, device: id, fingerprint: pending.fingerprint, detail: "not enrolled; nothing sent"
                )
            ]
        }
        guard device.publicKey == publicKey else {
            return [
                try audit(
                    .deviceKeyMismatch, device: id, fingerprint: fingerprint,
                    detail: "hello key differs from the enrolled key \(device.fingerprint); nothing sent")
            ]
        }
        // Nothing new → nothing published. The device already has its latest envelope (reset or wifi)
        // as the retained config, delivered on its subscribe; publishing it again live would make the
        // agent judge it a replay. Lost retained messages are restored by `reconcile()` on every
        // (re)connect of the service instead.
        if device.state == .revoked { return [] }
        guard let profile = try registry.effectiveProfile(for: device) else { return [] }
        if device.envelopeAssignment == profile.assignmentTag, device.envelope != nil { return [] }
        return try seal(profile, for: id, reason: "hello")
    }

    /// A validated status report from a device (its `device` equals the topic's id).
    public func status(_ report: DeviceStatus) throws -> [EngineAction] {
        let id = report.device
        let seq = Int64(report.seq)
        guard let before = try registry.device(id.rawValue) else { return [] }
        if before.isStaleReplay(report.state, reason: report.reason) { return [] }
        guard
            let device = try registry.recordStatus(
                device: id.rawValue, state: report.state, seq: seq, reason: report.reason, detail: report.detail,
                now: now())
        else { return [] }
        if report.state == .applied || report.state == .failed, seq == device.lastSeq {
            return [
                try audit(
                    report.state == .applied ? .deviceApplied : .deviceFailed, device: id, seq: seq,
                    state: report.state, reason: report.reason)
            ]
        }
        if device.confirmsRevoke(report.state, seq: seq) {
            // The account goes only now: until the reset is confirmed the device must still be able
            // to log in and receive it.
            return [
                .clearConfig(device: id), .removeBrokerAccount(device: id),
                try audit(.deviceReset, device: id, seq: seq, state: report.state),
            ]
        }
        return []
    }

    private func seal(_ stored: StoredProfile, for id: DeviceID, reason: String) throws -> [EngineAction] {
        let device = try storeNewEnvelope(for: id, kind: .wifi, assignment: stored.assignmentTag) {
            [identity] device, seq, key in
            try EnvelopeCrypto.seal(
                profile: stored.profile, seq: seq, device: id, devicePublicKey: key,
                servicePrivateKey: identity.privateKey)
        }
        return [
            .publishConfig(device: id, payload: Array((device.envelope ?? "").utf8)),
            try audit(
                .configSealed, device: id, seq: device.lastSeq, detail: "profile \(stored.name) (\(reason))"),
        ]
    }

    /// Allocates the next seq for `id` and stores the envelope `seal` makes with it, in one
    /// registry transaction.
    private func storeNewEnvelope(
        for id: DeviceID, kind: PayloadKind, assignment: String?,
        seal: @escaping @Sendable (DeviceRecord, UInt64, Curve25519.KeyAgreement.PublicKey) throws -> Envelope
    ) throws -> DeviceRecord {
        try registry.storeNewEnvelope(device: id.rawValue, kind: kind, assignment: assignment, now: now()) {
            device, seq in
            let key = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: device.publicKey)
            return try MessageCodec.encodeString(try seal(device, UInt64(seq), key))
        }
    }

    private func audit(
        _ type: AuditEventType, device: DeviceID? = nil, fingerprint: String? = nil, seq: Int64? = nil,
        state: DeviceState? = nil, reason: ReasonCode? = nil, detail: String? = nil, operatorName: String? = nil
    ) throws -> EngineAction {
        let record = try registry.appendAudit(
            AuditRecord(
                ts: now(), type: type, device: device?.rawValue, fingerprint: fingerprint, seq: seq, state: state,
                reason: reason, detail: detail, operatorName: operatorName))
        return .publishEvent(record)
    }

    // MARK: - Operator requests

    /// Handles one operator request payload received on `P/v1/ops/request/{operator}`.
    ///
    /// `operatorName` comes from the topic, which the broker lets only that operator publish to: it is
    /// the authenticated requester. A request whose `reply_to` is not exactly that operator's reply
    /// topic for its id is refused: an error reply on the requester's own reply topic and an
    /// `ops.rejected` audit event, nothing else. Returns no action when the payload has no usable id
    /// (then nobody could read an answer); the caller logs that.
    public func operatorRequest(_ payload: [UInt8], from operatorName: String) -> [EngineAction] {
        guard let header = OperatorRequest.Header(payload),
            let ownReplyTo = try? topics.opsReply(operator: operatorName, correlation: header.id)
        else { return [] }
        guard OperatorRequest.replyTopic(header.replyTo, matches: operatorName, correlation: header.id, in: topics)
        else {
            let own = RequestContext(id: header.id, replyTo: ownReplyTo, operatorName: operatorName)
            var actions: [EngineAction] = []
            if let event = try? audit(
                .opsRejected,
                detail:
                    "request \(header.id) asked for replies on '\(header.replyTo.prefix(200))', not its own reply topic",
                operatorName: operatorName)
            {
                actions.append(event)
            }
            actions.append(own.failure(.replyToMismatch, "reply_to must be \(ownReplyTo); request refused"))
            return actions
        }
        let context = RequestContext(id: header.id, replyTo: header.replyTo, operatorName: operatorName)
        guard header.v == protocolVersion else {
            return [context.failure(.badRequest, "unsupported request version \(header.v)")]
        }
        guard OperatorOp(rawValue: header.op) != nil else {
            return [context.failure(.unknownOp, "unknown operation '\(header.op.prefix(80))'")]
        }
        let request: OperatorRequest
        do {
            request = try MessageCodec.decode(OperatorRequest.self, from: payload)
        } catch {
            return [context.failure(.badRequest, "malformed request: \(error.message)")]
        }
        do {
            switch request.op {
            case .enroll: return try context.run(request, EnrollArgs.self) { try enroll($0, context) }
            case .pending: return try context.run(request, NoArguments.self) { _ in try pending(context) }
            case .approve: return try context.run(request, ApproveArgs.self) { try approve($0, context) }
            case .profileAdd: return try context.run(request, ProfileAddArgs.self) { try profileAdd($0, context) }
            case .profileList: return try context.run(request, NoArguments.self) { _ in try profileList(context) }
            case .profileRemove: return try context.run(request, NameArgs.self) { try profileRemove($0, context) }
            case .assign: return try context.run(request, AssignArgs.self) { try assign($0, context) }
            case .push: return try context.run(request, PushArgs.self) { try push($0, context) }
            case .status: return try context.run(request, NoArguments.self) { _ in try status(context) }
            case .revoke: return try context.run(request, DeviceArgs.self) { try revoke($0, context) }
            }
        } catch let error as OperatorError {
            return [context.failure(error)]
        } catch let error as ProvisioningError {
            return [context.failure(OperatorError(error.code.operatorCode, error.message))]
        } catch {
            return [context.failure(.internalError, "\(error)")]
        }
    }

    private func enroll(_ args: EnrollArgs, _ context: RequestContext) throws -> ([EngineAction], EnrollResult) {
        guard !args.devices.isEmpty else { throw OperatorError(.badRequest, "no devices to enroll") }
        // Parse and check everything first: a manifest with one bad line changes nothing.
        var identities: [(BootstrapURI, String?)] = []
        for (index, entry) in args.devices.enumerated() {
            let uri: BootstrapURI
            do {
                uri = try BootstrapURI(parsing: entry.uri)
            } catch {
                throw OperatorError(.invalidURI, "entry \(index + 1): \(error.message)")
            }
            if let group = entry.group { try requireValidGroup(group) }
            if let existing = try registry.device(uri.deviceID.rawValue), existing.state != .revoked,
                existing.publicKey != uri.publicKey.rawRepresentation
            {
                throw OperatorError(
                    .keyConflict,
                    "entry \(index + 1): device '\(uri.deviceID)' is enrolled with another key; revoke it first")
            }
            identities.append((uri, entry.group))
        }
        var summaries: [DeviceSummary] = []
        var actions: [EngineAction] = []
        for (uri, group) in identities {
            let id = uri.deviceID
            let before = try registry.device(id.rawValue)
            let device = try registry.enroll(
                id: id.rawValue, publicKey: uri.publicKey.rawRepresentation, fingerprint: Fingerprint.of(uri.publicKey),
                group: group, now: now())
            summaries.append(DeviceSummary(device: id, fingerprint: device.fingerprint, group: device.groupName))
            actions += brokerAccountActions(enrolled: device, id: id, before: before)
            actions.append(
                try audit(
                    .deviceEnrolled, device: id, fingerprint: device.fingerprint,
                    detail: device.groupName.map { "group \($0)" }, operatorName: context.operatorName))
        }
        return (actions, EnrollResult(enrolled: summaries))
    }

    /// The broker account changes an enrollment needs: a new account for a new device, a fresh one
    /// (remove, create) for a device enrolled again after a revoke, nothing for a repeated enrollment.
    private func brokerAccountActions(enrolled device: DeviceRecord, id: DeviceID, before: DeviceRecord?)
        -> [EngineAction]
    {
        guard let before else { return [.registerBrokerAccount(device: id, publicKey: device.publicKey)] }
        guard before.state == .revoked else { return [] }
        return [.removeBrokerAccount(device: id), .registerBrokerAccount(device: id, publicKey: device.publicKey)]
    }

    private func requireValidGroup(_ group: String) throws(OperatorError) {
        if let problem = Identifier.problem(group) {
            throw OperatorError(.badRequest, "invalid group name '\(group.prefix(80))': \(problem)")
        }
    }

    private func pending(_ context: RequestContext) throws -> ([EngineAction], PendingResult) {
        let entries = try registry.pendingDevices().map {
            PendingEntry(
                device: try DeviceID($0.id), fingerprint: $0.fingerprint, firstSeen: $0.firstSeen,
                lastSeen: $0.lastSeen, hellos: $0.helloCount, keysSeen: $0.seenFingerprintList)
        }
        return ([], PendingResult(pending: entries))
    }

    private func approve(_ args: ApproveArgs, _ context: RequestContext) throws -> ([EngineAction], DeviceSummary) {
        if let group = args.group { try requireValidGroup(group) }
        // Fingerprint check and enrollment happen in one registry transaction: the key enrolled is
        // exactly the one whose fingerprint the operator compared.
        let (before, device) = try registry.approve(
            id: args.device.rawValue, expectedFingerprint: args.fingerprint, group: args.group, now: now())
        let accounts = brokerAccountActions(enrolled: device, id: args.device, before: before)
        let event = try audit(
            .deviceEnrolled, device: args.device, fingerprint: device.fingerprint, detail: "approved from pending",
            operatorName: context.operatorName)
        return (
            accounts + [event],
            DeviceSummary(device: args.device, fingerprint: device.fingerprint, group: device.groupName)
        )
    }

    private func profileAdd(_ args: ProfileAddArgs, _ context: RequestContext) throws -> (
        [EngineAction], ProfileAddResult
    ) {
        if let problem = Identifier.problem(args.name) {
            throw OperatorError(.badRequest, "invalid profile name '\(args.name.prefix(80))': \(problem)")
        }
        let plaintext: [UInt8]
        do {
            plaintext = try OperatorSecretBox.open(
                args.sealed, correlation: context.id, servicePrivateKey: identity.privateKey)
        } catch {
            throw OperatorError(
                .sealedSecret, "cannot open the sealed profile: was it sealed to this service's public key?")
        }
        let profile: WiFiProfile
        do {
            profile = try MessageCodec.decode(WiFiProfile.self, from: plaintext)
        } catch {
            let problems =
                error.issues.isEmpty ? error.message : error.issues.map(\.description).joined(separator: "; ")
            throw OperatorError(.invalidProfile, "invalid profile: \(problems)")
        }
        let saved = try registry.saveProfile(StoredProfile(name: args.name, profile: profile), now: now())
        let event = try audit(
            .profileSaved, detail: "profile \(saved.name) revision \(saved.revision)",
            operatorName: context.operatorName)
        return ([event], ProfileAddResult(name: saved.name, revision: saved.revision))
    }

    private func profileList(_ context: RequestContext) throws -> ([EngineAction], ProfileListResult) {
        ([], ProfileListResult(profiles: try registry.profiles()))
    }

    private func profileRemove(_ args: NameArgs, _ context: RequestContext) throws -> ([EngineAction], NameArgs) {
        try registry.removeProfile(args.name)
        let event = try audit(.profileRemoved, detail: "profile \(args.name)", operatorName: context.operatorName)
        return ([event], args)
    }

    /// Resolves `devices` xor `group` to enrolled device records.
    private func targets(devices: [DeviceID]?, group: String?) throws -> [(DeviceID, DeviceRecord)] {
        switch (devices, group) {
        case (let ids?, nil) where !ids.isEmpty:
            return try ids.map { id in (id, try registry.requireDevice(id.rawValue)) }
        case (nil, let group?):
            try requireValidGroup(group)
            return try registry.devices(inGroup: group).map { (try DeviceID($0.id), $0) }
        default:
            throw OperatorError(.badRequest, "give either a non-empty device list or a group")
        }
    }

    private func assign(_ args: AssignArgs, _ context: RequestContext) throws -> ([EngineAction], AssignResult) {
        let devices = try targets(devices: args.devices, group: args.group).map(\.0)
        guard try registry.profile(args.profile) != nil else {
            throw OperatorError(.unknownProfile, "no profile '\(args.profile)'")
        }
        if let group = args.group {
            try registry.assign(profile: args.profile, group: group, now: now())
        } else {
            try registry.assign(profile: args.profile, devices: devices.map(\.rawValue), now: now())
        }
        let target = args.group.map { "group \($0)" } ?? devices.map(\.rawValue).joined(separator: ",")
        let event = try audit(
            .profileAssigned, detail: "profile \(args.profile) to \(target)", operatorName: context.operatorName)
        return ([event], AssignResult(profile: args.profile, devices: devices, group: args.group))
    }

    private func push(_ args: PushArgs, _ context: RequestContext) throws -> ([EngineAction], PushResult) {
        let devices = try targets(devices: args.devices, group: args.group)
        if devices.isEmpty, let group = args.group {
            throw OperatorError(.unknownDevice, "no enrolled device in group '\(group)'")
        }
        // Check every target before sealing anything.
        var plan: [(DeviceID, StoredProfile)] = []
        for (id, device) in devices {
            if device.state == .revoked {
                throw OperatorError(.revoked, "device '\(id)' is revoked; enroll it again first")
            }
            guard let profile = try registry.effectiveProfile(for: device) else {
                throw OperatorError(.noProfileAssigned, "no profile assigned to device '\(id)' or its group")
            }
            plan.append((id, profile))
        }
        var actions: [EngineAction] = []
        var pushed: [PushedDevice] = []
        for (id, profile) in plan {
            actions += try seal(profile, for: id, reason: "push by \(context.operatorName)")
            let seq = try registry.requireDevice(id.rawValue).lastSeq
            pushed.append(PushedDevice(device: id, seq: seq, profile: profile.name))
        }
        return (actions, PushResult(pushed: pushed))
    }

    private func status(_ context: RequestContext) throws -> ([EngineAction], StatusResult) {
        let rows = try registry.devices().map { device in
            DeviceStatusRow(
                device: try DeviceID(device.id), fingerprint: device.fingerprint, group: device.groupName,
                profile: try registry.effectiveProfile(for: device)?.name, state: device.state, seq: device.lastSeq,
                lastStatus: device.statusState, reason: device.statusReason, statusAt: device.statusAt)
        }
        return ([], StatusResult(devices: rows, pending: try registry.pendingDevices().count))
    }

    private func revoke(_ args: DeviceArgs, _ context: RequestContext) throws -> ([EngineAction], RevokeResult) {
        let id = args.device
        _ = try registry.requireDevice(id.rawValue)
        let device = try storeNewEnvelope(for: id, kind: .reset, assignment: nil) { [identity] _, seq, key in
            try EnvelopeCrypto.seal(
                reset: ResetCommand(reason: "revoked"), seq: seq, device: id, devicePublicKey: key,
                servicePrivateKey: identity.privateKey)
        }
        let event = try audit(
            .deviceRevoked, device: id, fingerprint: device.fingerprint, seq: device.lastSeq,
            operatorName: context.operatorName)
        return (
            [
                .clearConfig(device: id), .publishConfig(device: id, payload: Array((device.envelope ?? "").utf8)),
                event,
            ],
            RevokeResult(device: id, seq: device.lastSeq)
        )
    }
}

/// The request being answered: where the reply goes and who asked.
struct RequestContext: Sendable {
    var id: String
    var replyTo: String
    var operatorName: String

    func failure(_ code: OperatorErrorCode, _ message: String) -> EngineAction {
        failure(OperatorError(code, message))
    }

    func failure(_ error: OperatorError) -> EngineAction {
        var error = error
        if error.message.utf8.count > OperatorError.maxMessageBytes {
            // Cut on bytes; a cut character becomes U+FFFD (3 bytes), hence the margin.
            let head = error.message.utf8.prefix(OperatorError.maxMessageBytes - 3)
            error.message = String(decoding: head, as: UTF8.self)
        }
        return .reply(topic: replyTo, payload: Self.encode(.failure(id: id, error)))
    }

    /// Decodes the op's arguments, runs `body`, and appends the success reply to its actions.
    func run<Args: Decodable, Result: Encodable>(
        _ request: OperatorRequest, _ type: Args.Type, _ body: (Args) throws -> ([EngineAction], Result)
    ) throws -> [EngineAction] {
        let args: Args
        do {
            args = try request.arguments(Args.self)
        } catch {
            let code: OperatorErrorCode = error.code == .invalidIdentifier ? .invalidDeviceID : .badRequest
            throw OperatorError(code, "malformed arguments: \(error.message)")
        }
        let (actions, result) = try body(args)
        return actions + [.reply(topic: replyTo, payload: Self.encode(try .success(id: id, result: result)))]
    }

    /// A reply that cannot be encoded (too large, say) becomes an `internal` error reply.
    private static func encode(_ reply: OperatorReply) -> [UInt8] {
        do {
            return try MessageCodec.encode(reply)
        } catch {
            let fallback = OperatorReply.failure(id: reply.id, OperatorError(.internalError, "\(error.message)"))
            return (try? MessageCodec.encode(fallback)) ?? []
        }
    }
}

extension ProvisioningError.Code {
    /// The operator reply code for this registry failure.
    var operatorCode: OperatorErrorCode { OperatorErrorCode(rawValue: rawValue) ?? .internalError }
}
