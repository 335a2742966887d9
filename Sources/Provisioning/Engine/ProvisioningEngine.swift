import FleetCtlCore
import Foundation

/// What the engine asks its I/O shell to do, in order.
public enum EngineAction: Sendable, Hashable {
    /// Publish `payload` as the retained config of `device` (QoS 1).
    case publishConfig(device: String, payload: [UInt8])
    /// Publish an empty retained message on the config topic of `device`, clearing it.
    case clearConfig(device: String)
    /// Publish an audit event on `P/v1/events` (already stored in the audit log).
    case publishEvent(AuditRecord)
    /// Publish an operator reply on `topic`.
    case reply(topic: String, payload: [UInt8])
    /// Create the device's broker account (dynamic security; password derived from its key).
    case registerBrokerAccount(device: String, publicKey: Data)
    /// Delete the device's broker account.
    case removeBrokerAccount(device: String)
}

/// The provisioning decisions: events in, actions out, with the registry as the only state.
///
/// No broker here: the service shell decodes messages into calls on this type and performs the
/// returned actions. Several engines (several provisiond processes) may share one registry: every
/// decision that allocates a seq does so inside one registry transaction.
public final class ProvisioningEngine: Sendable {
    public let registry: Registry
    private let wire: any WirePort
    private let now: @Sendable () -> Int64
    private let prefix: String

    /// - Parameters:
    ///   - prefix: the topic prefix, to check operator reply topics.
    ///   - now: the clock, Unix seconds; injected for tests.
    public init(
        registry: Registry, wire: any WirePort, prefix: String,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.registry = registry
        self.wire = wire
        self.prefix = prefix
        self.now = now
    }

    /// The `P/v1/events` payload of an audit record.
    public func auditPayload(_ record: AuditRecord) -> [UInt8] { wire.encodeAudit(record) }

    // MARK: - Start

    /// Republishes every envelope that was never acknowledged: a broker killed hard loses the
    /// retained messages written since its last autosave, and the device would wait forever.
    public func reconcile() throws -> [EngineAction] {
        try registry.unacknowledgedDevices().compactMap { device in
            guard let envelope = device.envelope else { return nil }
            return .publishConfig(device: device.id, payload: Array(envelope.utf8))
        }
    }

    // MARK: - Devices

    /// A validated hello: `device` is a valid id equal to the topic's, `publicKey` 32 bytes.
    public func hello(device id: String, publicKey: Data) throws -> [EngineAction] {
        let t = now()
        guard let device = try registry.device(id) else {
            let previous = try registry.pendingDevices().first { $0.id == id }
            let pending = try registry.recordPending(
                id: id, publicKey: publicKey, fingerprint: wire.fingerprint(of: publicKey), now: t)
            // One event per new device or new key, not one per retried hello.
            guard previous?.publicKey != publicKey else { return [] }
            return [
                try audit(
                    "device.pending", device: id, fingerprint: pending.fingerprint, detail: "not enrolled; nothing sent"
                )
            ]
        }
        guard device.publicKey == publicKey else {
            return [
                try audit(
                    "device.key_mismatch", device: id, fingerprint: wire.fingerprint(of: publicKey),
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
        return try seal(profile: profile, for: device.id, reason: "hello")
    }

    /// A validated status report from a device.
    public func status(device id: String, state: String, seq: Int64, reason: String?, detail: String?) throws
        -> [EngineAction]
    {
        guard let before = try registry.device(id) else { return [] }
        if state == "failed", reason == "replay", before.state == .applied {
            // A reconnecting agent saw the retained envelope it already applied: not a failure.
            return []
        }
        guard
            let device = try registry.recordStatus(
                device: id, state: state, seq: seq, reason: reason, detail: detail, now: now())
        else { return [] }
        var actions: [EngineAction] = []
        switch state {
        case "applied", "failed":
            if seq == device.lastSeq {
                actions.append(try audit("device.\(state)", device: id, seq: seq, state: state, reason: reason))
            }
        case "reset":
            if device.state == .revoked, seq == device.lastSeq {
                // The account goes only now: until the reset is confirmed the device must still be
                // able to log in and receive it.
                actions.append(.clearConfig(device: id))
                actions.append(.removeBrokerAccount(device: id))
                actions.append(try audit("device.reset", device: id, seq: seq, state: state))
            }
        default:
            break
        }
        return actions
    }

    private func seal(profile: ProfileDefinition, for id: String, reason: String) throws -> [EngineAction] {
        let plaintext = try wire.encodeProfile(profile)
        let wire = self.wire
        let device = try registry.storeNewEnvelope(
            device: id, kind: EnvelopeKind.wifi.rawValue, assignment: profile.assignmentTag, now: now()
        ) { device, seq in
            let envelope = try wire.sealEnvelope(
                plaintext: plaintext, kind: .wifi, seq: seq, device: device.id, devicePublicKey: device.publicKey)
            return String(decoding: envelope, as: UTF8.self)
        }
        return [
            .publishConfig(device: id, payload: Array((device.envelope ?? "").utf8)),
            try audit(
                "config.sealed", device: id, seq: device.lastSeq, detail: "profile \(profile.name) (\(reason))"),
        ]
    }

    private func audit(
        _ type: String, device: String? = nil, fingerprint: String? = nil, seq: Int64? = nil,
        state: String? = nil, reason: String? = nil, detail: String? = nil, operatorName: String? = nil
    ) throws -> EngineAction {
        let record = try registry.appendAudit(
            AuditRecord(
                ts: now(), type: type, device: device, fingerprint: fingerprint, seq: seq, state: state,
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
        guard payload.count <= 16384, wire.isValidIdentifier(operatorName) else { return [] }
        let decoder = JSONDecoder()
        guard let header = try? decoder.decode(OperatorRequestHeader.self, from: Data(payload)),
            wire.isValidIdentifier(header.id)
        else { return [] }
        guard
            wire.replyTopicMatches(header.replyTo, operator: operatorName, correlation: header.id, prefix: prefix)
        else {
            let ownReplyTo = "\(prefix)/v1/ops/reply/\(operatorName)/\(header.id)"
            let own = RequestContext(id: header.id, replyTo: ownReplyTo, operatorName: operatorName)
            var actions: [EngineAction] = []
            if let event = try? audit(
                "ops.rejected",
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
        guard header.v == 1 else {
            return [context.failure(.badRequest, "unsupported request version \(header.v)")]
        }
        guard let op = OperatorOp(rawValue: header.op) else {
            return [context.failure(.unknownOp, "unknown operation '\(header.op)'")]
        }
        do {
            switch op {
            case .enroll: return try context.run(payload, EnrollArgs.self) { try enroll($0, context) }
            case .pending: return try context.run(payload, NoArguments.self) { _ in try pending(context) }
            case .approve: return try context.run(payload, ApproveArgs.self) { try approve($0, context) }
            case .profileAdd: return try context.run(payload, ProfileAddArgs.self) { try profileAdd($0, context) }
            case .profileList: return try context.run(payload, NoArguments.self) { _ in try profileList(context) }
            case .profileRemove: return try context.run(payload, NameArgs.self) { try profileRemove($0, context) }
            case .assign: return try context.run(payload, AssignArgs.self) { try assign($0, context) }
            case .push: return try context.run(payload, PushArgs.self) { try push($0, context) }
            case .status: return try context.run(payload, NoArguments.self) { _ in try status(context) }
            case .revoke: return try context.run(payload, DeviceArgs.self) { try revoke($0, context) }
            }
        } catch let error as OpsError {
            return [context.failure(error)]
        } catch let error as RegistryError {
            return [context.failure(OpsError(code: error.code.rawValue, message: error.message))]
        } catch {
            return [context.failure(.internalError, "\(error)")]
        }
    }

    private func requireValidID(_ id: String) throws {
        guard wire.isValidIdentifier(id) else {
            throw OpsError(code: .invalidDeviceID, message: "invalid device id '\(id.prefix(80))'")
        }
    }

    private func enroll(_ args: EnrollArgs, _ context: RequestContext) throws -> ([EngineAction], EnrollResult) {
        guard !args.devices.isEmpty else { throw OpsError(code: .badRequest, message: "no devices to enroll") }
        // Parse and check everything first: a manifest with one bad line changes nothing.
        var identities: [(EnrollmentIdentity, String?)] = []
        for (index, entry) in args.devices.enumerated() {
            let identity: EnrollmentIdentity
            do {
                identity = try wire.parseBootstrapURI(entry.uri)
            } catch {
                throw OpsError(code: .invalidURI, message: "entry \(index + 1): \(error)")
            }
            if let group = entry.group { try requireValidGroup(group) }
            if let existing = try registry.device(identity.device), existing.state != .revoked,
                existing.publicKey != identity.publicKey
            {
                throw OpsError(
                    code: .keyConflict,
                    message:
                        "entry \(index + 1): device '\(identity.device)' is enrolled with another key; revoke it first")
            }
            identities.append((identity, entry.group))
        }
        var summaries: [DeviceSummary] = []
        var actions: [EngineAction] = []
        for (identity, group) in identities {
            let before = try registry.device(identity.device)
            let device = try registry.enroll(
                id: identity.device, publicKey: identity.publicKey,
                fingerprint: wire.fingerprint(of: identity.publicKey), group: group, now: now())
            summaries.append(DeviceSummary(device: device.id, fingerprint: device.fingerprint, group: device.groupName))
            actions += brokerAccountActions(enrolled: device, before: before)
            actions.append(
                try audit(
                    "device.enrolled", device: device.id, fingerprint: device.fingerprint,
                    detail: device.groupName.map { "group \($0)" }, operatorName: context.operatorName))
        }
        return (actions, EnrollResult(enrolled: summaries))
    }

    /// The broker account changes an enrollment needs: a new account for a new device, a fresh one
    /// (remove, create) for a device enrolled again after a revoke, nothing for a repeated enrollment.
    private func brokerAccountActions(enrolled device: DeviceRecord, before: DeviceRecord?) -> [EngineAction] {
        guard let before else { return [.registerBrokerAccount(device: device.id, publicKey: device.publicKey)] }
        guard before.state == .revoked else { return [] }
        return [
            .removeBrokerAccount(device: device.id),
            .registerBrokerAccount(device: device.id, publicKey: device.publicKey),
        ]
    }

    private func requireValidGroup(_ group: String) throws {
        guard wire.isValidIdentifier(group) else {
            throw OpsError(code: .badRequest, message: "invalid group name '\(group.prefix(80))'")
        }
    }

    private func pending(_ context: RequestContext) throws -> ([EngineAction], PendingResult) {
        let entries = try registry.pendingDevices().map {
            PendingEntry(
                device: $0.id, fingerprint: $0.fingerprint, firstSeen: $0.firstSeen, lastSeen: $0.lastSeen,
                hellos: $0.helloCount, keysSeen: $0.seenFingerprintList)
        }
        return ([], PendingResult(pending: entries))
    }

    private func approve(_ args: ApproveArgs, _ context: RequestContext) throws -> ([EngineAction], DeviceSummary) {
        try requireValidID(args.device)
        if let group = args.group { try requireValidGroup(group) }
        // Fingerprint check and enrollment happen in one registry transaction: the key enrolled is
        // exactly the one whose fingerprint the operator compared.
        let (before, device) = try registry.approve(
            id: args.device, expectedFingerprint: args.fingerprint, group: args.group, now: now())
        let accounts = brokerAccountActions(enrolled: device, before: before)
        let event = try audit(
            "device.enrolled", device: device.id, fingerprint: device.fingerprint, detail: "approved from pending",
            operatorName: context.operatorName)
        return (
            accounts + [event],
            DeviceSummary(device: device.id, fingerprint: device.fingerprint, group: device.groupName)
        )
    }

    private func profileAdd(_ args: ProfileAddArgs, _ context: RequestContext) throws -> (
        [EngineAction], ProfileAddResult
    ) {
        guard wire.isValidIdentifier(args.name) else {
            throw OpsError(code: .badRequest, message: "invalid profile name '\(args.name.prefix(80))'")
        }
        let plaintext: [UInt8]
        do {
            plaintext = try wire.openOperatorSecret(args.sealed, correlation: context.id)
        } catch {
            throw OpsError(
                code: .sealedSecret,
                message: "cannot open the sealed profile: was it sealed to this service's public key?")
        }
        let profile: ProfileDefinition
        switch wire.decodeProfile(plaintext, name: args.name) {
        case .success(let decoded): profile = decoded
        case .failure(let issues):
            throw OpsError(code: .invalidProfile, message: "invalid profile: \(issues)")
        }
        let saved = try registry.saveProfile(profile, now: now())
        let event = try audit(
            "profile.saved", detail: "profile \(saved.name) revision \(saved.revision)",
            operatorName: context.operatorName)
        return ([event], ProfileAddResult(name: saved.name, revision: saved.revision))
    }

    private func profileList(_ context: RequestContext) throws -> ([EngineAction], ProfileListResult) {
        let profiles = try registry.profileSummaries().map {
            ProfileInfo(
                name: $0.name, ssid: $0.ssid, encryption: $0.encryption, hidden: $0.hidden ?? false,
                revision: $0.revision)
        }
        return ([], ProfileListResult(profiles: profiles))
    }

    private func profileRemove(_ args: NameArgs, _ context: RequestContext) throws -> ([EngineAction], NameArgs) {
        try registry.removeProfile(args.name)
        let event = try audit("profile.removed", detail: "profile \(args.name)", operatorName: context.operatorName)
        return ([event], args)
    }

    /// Resolves `devices` xor `group` to enrolled device records, checking every id.
    private func targets(devices: [String]?, group: String?) throws -> [DeviceRecord] {
        switch (devices, group) {
        case (let ids?, nil) where !ids.isEmpty:
            return try ids.map { id in
                try requireValidID(id)
                return try registry.requireDevice(id)
            }
        case (nil, let group?):
            try requireValidGroup(group)
            return try registry.devices(inGroup: group)
        default:
            throw OpsError(code: .badRequest, message: "give either a non-empty device list or a group")
        }
    }

    private func assign(_ args: AssignArgs, _ context: RequestContext) throws -> ([EngineAction], AssignResult) {
        let devices = try targets(devices: args.devices, group: args.group)
        guard try registry.profile(args.profile) != nil else {
            throw OpsError(code: .unknownProfile, message: "no profile '\(args.profile)'")
        }
        if let group = args.group {
            try registry.assign(profile: args.profile, group: group, now: now())
        } else {
            try registry.assign(profile: args.profile, devices: devices.map(\.id), now: now())
        }
        let target = args.group.map { "group \($0)" } ?? devices.map(\.id).joined(separator: ",")
        let event = try audit(
            "profile.assigned", detail: "profile \(args.profile) to \(target)", operatorName: context.operatorName)
        return ([event], AssignResult(profile: args.profile, devices: devices.map(\.id), group: args.group))
    }

    private func push(_ args: PushArgs, _ context: RequestContext) throws -> ([EngineAction], PushResult) {
        let devices = try targets(devices: args.devices, group: args.group)
        if devices.isEmpty, let group = args.group {
            throw OpsError(code: .unknownDevice, message: "no enrolled device in group '\(group)'")
        }
        // Check every target before sealing anything.
        var plan: [(DeviceRecord, ProfileDefinition)] = []
        for device in devices {
            if device.state == .revoked {
                throw OpsError(code: .revoked, message: "device '\(device.id)' is revoked; enroll it again first")
            }
            guard let profile = try registry.effectiveProfile(for: device) else {
                throw OpsError(
                    code: .noProfileAssigned, message: "no profile assigned to device '\(device.id)' or its group")
            }
            plan.append((device, profile))
        }
        var actions: [EngineAction] = []
        var pushed: [PushedDevice] = []
        for (device, profile) in plan {
            let sealed = try seal(profile: profile, for: device.id, reason: "push by \(context.operatorName)")
            actions += sealed
            let seq = try registry.requireDevice(device.id).lastSeq
            pushed.append(PushedDevice(device: device.id, seq: seq, profile: profile.name))
        }
        return (actions, PushResult(pushed: pushed))
    }

    private func status(_ context: RequestContext) throws -> ([EngineAction], StatusResult) {
        let rows = try registry.devices().map { device in
            DeviceStatusRow(
                device: device.id, fingerprint: device.fingerprint, group: device.groupName,
                profile: try registry.effectiveProfile(for: device)?.name, state: device.state.rawValue,
                seq: device.lastSeq, lastStatus: device.statusState, reason: device.statusReason,
                statusAt: device.statusAt)
        }
        return ([], StatusResult(devices: rows, pending: try registry.pendingDevices().count))
    }

    private func revoke(_ args: DeviceArgs, _ context: RequestContext) throws -> ([EngineAction], RevokeResult) {
        try requireValidID(args.device)
        _ = try registry.requireDevice(args.device)
        let plaintext = Array(#"{"reason":"revoked"}"#.utf8)
        let wire = self.wire
        let device = try registry.storeNewEnvelope(
            device: args.device, kind: EnvelopeKind.reset.rawValue, assignment: nil, now: now()
        ) { device, seq in
            let envelope = try wire.sealEnvelope(
                plaintext: plaintext, kind: .reset, seq: seq, device: device.id, devicePublicKey: device.publicKey)
            return String(decoding: envelope, as: UTF8.self)
        }
        let event = try audit(
            "device.revoked", device: device.id, fingerprint: device.fingerprint, seq: device.lastSeq,
            operatorName: context.operatorName)
        return (
            [
                .clearConfig(device: device.id),
                .publishConfig(device: device.id, payload: Array((device.envelope ?? "").utf8)), event,
            ],
            RevokeResult(device: device.id, seq: device.lastSeq)
        )
    }
}

/// The request being answered: where the reply goes and who asked.
struct RequestContext: Sendable {
    var id: String
    var replyTo: String
    var operatorName: String

    func failure(_ code: OperatorErrorCode, _ message: String) -> EngineAction {
        failure(OpsError(code: code, message: message))
    }

    func failure(_ error: OpsError) -> EngineAction {
        let reply = OperatorReplyMessage<NoArguments>(id: id, error: error)
        return .reply(topic: replyTo, payload: Array((try? JSONEncoder().encode(reply)) ?? Data()))
    }

    /// Decodes the op's arguments, runs `body`, and appends the success reply to its actions.
    func run<Args: Codable & Sendable, Result: Codable & Sendable>(
        _ payload: [UInt8], _ type: Args.Type, _ body: (Args) throws -> ([EngineAction], Result)
    ) throws -> [EngineAction] {
        let args: Args
        do {
            args = try JSONDecoder().decode(OperatorRequestMessage<Args>.self, from: Data(payload)).args
        } catch {
            throw OpsError(code: .badRequest, message: "malformed arguments: \(Self.describe(error))")
        }
        let (actions, result) = try body(args)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let reply = try encoder.encode(OperatorReplyMessage(id: id, result: result))
        return actions + [.reply(topic: replyTo, payload: Array(reply))]
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case DecodingError.dataCorrupted(let context): return context.debugDescription
        default: return "\(error)"
        }
    }
}
