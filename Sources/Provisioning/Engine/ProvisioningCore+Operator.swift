import Crypto
import FleetProtocol
import Foundation

extension ProvisioningCore {
    /// Decides on one operator request payload received on `P/v1/ops/request/{operator}`.
    ///
    /// `operatorName` comes from the topic, which the broker lets only that operator publish to: it is
    /// the authenticated requester. A request whose `reply_to` is not exactly that operator's reply
    /// topic for its id is refused: an error reply on the requester's own reply topic and an
    /// `ops.rejected` audit event, nothing else. No action when the payload has no usable id (then
    /// nobody could read an answer); the shell logs that.
    func operatorRequest(_ payload: [UInt8], from operatorName: String, state: FleetState, now: Int64) -> Decision {
        guard let context = RequestContext(payload, from: operatorName, topics: topics) else { return Decision() }
        var draft = Draft(state, now: now)
        guard
            OperatorRequest.replyTopic(
                context.header.replyTo, matches: operatorName, correlation: context.id, in: topics)
        else {
            draft.audit(
                .opsRejected,
                detail:
                    "request \(context.id) asked for replies on '\(context.header.replyTo.prefix(200))', not its own reply topic",
                operatorName: operatorName)
            draft.send(context.failure(.replyToMismatch, "reply_to must be \(context.replyTo); request refused"))
            return draft.decision
        }
        do {
            try run(payload, context, &draft)
            return draft.decision
        } catch {
            return Decision(actions: [context.failure(error)])
        }
    }

    /// What makes two deliveries one request: the operator, the id and the exact bytes (a QoS 1
    /// copy is byte for byte the same; another request that reuses an id is not a copy). Nil without
    /// a usable id.
    func requestKey(_ payload: [UInt8], from operatorName: String) -> String? {
        guard let context = RequestContext(payload, from: operatorName, topics: topics) else { return nil }
        let digest = SHA256.hash(data: payload).map { String(format: "%02x", $0) }.joined()
        return "\(context.operatorName)\n\(context.id)\n\(digest)"
    }

    /// The registry state a request needs: one page for the ops whose answer grows with the fleet,
    /// the listed devices for an enrollment, everything for the rest (and for a request that does
    /// not decode: its error reply needs no state).
    public static func scope(ofRequest payload: [UInt8]) -> StateScope {
        guard let header = OperatorRequest.Header(payload), let op = OperatorOp(rawValue: header.op),
            [.status, .pending, .push, .enroll].contains(op),
            let request = try? MessageCodec.decode(OperatorRequest.self, from: payload)
        else { return .fleet }
        // One row more than the page, to tell whether another page follows.
        switch op {
        case .status:
            guard let page = try? request.arguments(PageArgs.self) else { return .fleet }
            return .devicePage(after: page.after?.rawValue, limit: page.pageLimit + 1, group: nil)
        case .pending:
            guard let page = try? request.arguments(PageArgs.self) else { return .fleet }
            return .pendingPage(after: page.after?.rawValue, limit: page.pageLimit + 1)
        case .push:
            guard let args = try? request.arguments(PushArgs.self), args.devices == nil, let group = args.group else {
                return .fleet
            }
            return .devicePage(after: args.after?.rawValue, limit: args.page.pageLimit + 1, group: group)
        case .enroll:
            guard let args = try? request.arguments(EnrollArgs.self) else { return .fleet }
            var ids: Set<String> = []
            for entry in args.devices {
                guard let uri = try? BootstrapURI(parsing: entry.uri) else { return .fleet }
                ids.insert(uri.deviceID.rawValue)
            }
            return .devices(ids)
        default:
            return .fleet
        }
    }

    /// The entries of `sorted` (ordered by id) after `page.after`, at most `page.pageLimit`, and
    /// the `next` of the result when more follow.
    static func page<Entry>(_ sorted: [Entry], _ page: PageArgs, id: (Entry) -> String) -> ([Entry], DeviceID?) {
        let rest = sorted.drop { entry in page.after.map { id(entry) <= $0.rawValue } ?? false }
        let taken = Array(rest.prefix(page.pageLimit))
        guard rest.count > taken.count, let last = taken.last else { return (taken, nil) }
        return (taken, try? DeviceID(id(last)))
    }

    /// The reply to a request the shell could not decide on (the registry failed), if it has a usable id.
    public func failureReply(to payload: [UInt8], from operatorName: String, _ error: any Error) -> [EngineAction] {
        guard let context = RequestContext(payload, from: operatorName, topics: topics) else { return [] }
        return [context.failure(error)]
    }

    private func run(_ payload: [UInt8], _ context: RequestContext, _ draft: inout Draft) throws {
        guard context.header.v == protocolVersion else {
            throw OperatorError(.badRequest, "unsupported request version \(context.header.v)")
        }
        guard let op = OperatorOp(rawValue: context.header.op) else {
            throw OperatorError(.unknownOp, "unknown operation '\(context.header.op.prefix(80))'")
        }
        // A request meant for another site (fleetctl --site pointed at the wrong broker) does nothing here.
        if let wanted = context.header.site, wanted != site {
            if let problem = Identifier.siteProblem(wanted) { throw OperatorError(.badRequest, "site name \(problem)") }
            let served = site.map { "site '\($0)'" } ?? "no named site (provisiond without --site)"
            throw OperatorError(.wrongSite, "request is for site '\(wanted)'; this provisiond serves \(served)")
        }
        // Before the arguments are even read: a forbidden request learns nothing else.
        let role = roles.role(of: context.operatorName)
        guard role.permits(op) else {
            let needed = OperatorRole.required(for: op)
            throw OperatorError(
                .forbidden,
                "operator '\(context.operatorName)' has role \(role.rawValue); '\(op.rawValue)' needs role "
                    + "\(needed.rawValue) (provisiond --operator-role \(context.operatorName)=\(needed.rawValue))")
        }
        let request: OperatorRequest
        do {
            request = try MessageCodec.decode(OperatorRequest.self, from: payload)
        } catch {
            throw OperatorError(.badRequest, "malformed request: \(error.message)")
        }
        switch request.op {
        case .enroll: try context.run(request, &draft, enroll)
        case .pending: try context.run(request, &draft, listPending)
        case .approve: try context.run(request, &draft, approve)
        case .profileAdd: try context.run(request, &draft, addProfile)
        case .profileList: try context.run(request, &draft, listProfiles)
        case .profileRemove: try context.run(request, &draft, removeProfile)
        case .assign: try context.run(request, &draft, assign)
        case .push: try context.run(request, &draft, push)
        case .status: try context.run(request, &draft, statusTable)
        case .revoke: try context.run(request, &draft, revoke)
        case .pendingReject: try context.run(request, &draft, rejectPending)
        case .pendingPurge: try context.run(request, &draft, purgePending)
        }
    }

    private func enroll(_ args: EnrollArgs, _ context: RequestContext, _ draft: inout Draft) throws -> EnrollResult {
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
            do {
                try requireNotReserved(uri.deviceID)
            } catch {
                throw OperatorError(error.code, "entry \(index + 1): \(error.message)")
            }
            if let group = entry.group { try requireValidGroup(group) }
            if let existing = draft.state.devices[uri.deviceID.rawValue], existing.state != .revoked,
                existing.publicKey != uri.publicKey.rawRepresentation
            {
                throw OperatorError(
                    .keyConflict,
                    "entry \(index + 1): device '\(uri.deviceID)' is enrolled with another key; revoke it first")
            }
            identities.append((uri, entry.group))
        }
        var summaries: [DeviceSummary] = []
        for (uri, group) in identities {
            let id = uri.deviceID
            let (before, device) = try draft.enroll(
                id: id.rawValue, publicKey: uri.publicKey.rawRepresentation, fingerprint: Fingerprint.of(uri.publicKey),
                group: group)
            summaries.append(DeviceSummary(device: id, fingerprint: device.fingerprint, group: device.groupName))
            sendBrokerAccountActions(enrolled: device, id: id, before: before, &draft)
            draft.audit(
                .deviceEnrolled, device: id, fingerprint: device.fingerprint,
                detail: device.groupName.map { "group \($0)" }, operatorName: context.operatorName)
        }
        return EnrollResult(enrolled: summaries)
    }

    /// The broker account changes an enrollment needs: a new account for a new device, a fresh one
    /// (remove, create) for a device enrolled again after a revoke, nothing for a repeated enrollment.
    private func sendBrokerAccountActions(
        enrolled device: DeviceRecord, id: DeviceID, before: DeviceRecord?, _ draft: inout Draft
    ) {
        if let before {
            guard before.state == .revoked else { return }
            draft.send(.removeBrokerAccount(device: id))
        }
        draft.send(.registerBrokerAccount(device: id, publicKey: device.publicKey))
    }

    private func requireValidGroup(_ group: String) throws(OperatorError) {
        if let problem = Identifier.problem(group) {
            throw OperatorError(.badRequest, "invalid group name '\(group.prefix(80))': \(problem)")
        }
    }

    private func listPending(_ args: PageArgs, _: RequestContext, _ draft: inout Draft) -> PendingResult {
        // Paged over every row, then the stale ones left out: a page may list fewer than its limit.
        let staleBefore = pendingLimits.staleBefore(draft.now)
        let (page, next) = Self.page(draft.state.pending.values.sorted { $0.id < $1.id }, args, id: \.id)
        let entries = page.compactMap { entry -> PendingEntry? in
            guard entry.lastSeen >= staleBefore, let id = try? DeviceID(entry.id) else { return nil }
            return PendingEntry(
                device: id, fingerprint: entry.fingerprint, firstSeen: entry.firstSeen, lastSeen: entry.lastSeen,
                hellos: entry.helloCount, keysSeen: entry.seenFingerprintList)
        }
        return PendingResult(pending: entries, next: next)
    }

    private func approve(_ args: ApproveArgs, _ context: RequestContext, _ draft: inout Draft) throws -> DeviceSummary {
        try requireNotReserved(args.device)
        if let group = args.group { try requireValidGroup(group) }
        let (before, device) = try draft.approve(
            id: args.device.rawValue, expectedFingerprint: args.fingerprint, group: args.group)
        sendBrokerAccountActions(enrolled: device, id: args.device, before: before, &draft)
        draft.audit(
            .deviceEnrolled, device: args.device, fingerprint: device.fingerprint, detail: "approved from pending",
            operatorName: context.operatorName)
        return DeviceSummary(device: args.device, fingerprint: device.fingerprint, group: device.groupName)
    }

    private func addProfile(_ args: ProfileAddArgs, _ context: RequestContext, _ draft: inout Draft) throws
        -> ProfileAddResult
    {
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
        let saved = draft.saveProfile(name: args.name, profile: profile)
        draft.audit(
            .profileSaved, detail: "profile \(saved.name) revision \(saved.revision)",
            operatorName: context.operatorName)
        return ProfileAddResult(name: saved.name, revision: saved.revision)
    }

    private func listProfiles(_: NoArguments, _: RequestContext, _ draft: inout Draft) -> ProfileListResult {
        ProfileListResult(
            profiles: draft.state.profiles.values.sorted { $0.name < $1.name }.map { stored in
                ProfileInfo(
                    name: stored.name, ssid: stored.profile.ssid, encryption: stored.profile.encryption,
                    hidden: stored.profile.hidden ?? false, revision: stored.revision)
            })
    }

    private func removeProfile(_ args: NameArgs, _ context: RequestContext, _ draft: inout Draft) throws -> NameArgs {
        try draft.removeProfile(args.name)
        draft.audit(.profileRemoved, detail: "profile \(args.name)", operatorName: context.operatorName)
        return args
    }

    /// Resolves `devices` xor `group` to enrolled device records.
    private func targets(devices: [DeviceID]?, group: String?, in draft: Draft) throws -> [(DeviceID, DeviceRecord)] {
        switch (devices, group) {
        case (let ids?, nil) where !ids.isEmpty:
            return try ids.map { id in (id, try draft.requireDevice(id.rawValue)) }
        case (nil, let group?):
            try requireValidGroup(group)
            return try draft.state.devices(inGroup: group).map { (try DeviceID($0.id), $0) }
        default:
            throw OperatorError(.badRequest, "give either a non-empty device list or a group")
        }
    }

    private func assign(_ args: AssignArgs, _ context: RequestContext, _ draft: inout Draft) throws -> AssignResult {
        let devices = try targets(devices: args.devices, group: args.group, in: draft).map(\.0)
        guard draft.state.profiles[args.profile] != nil else {
            throw OperatorError(.unknownProfile, "no profile '\(args.profile)'")
        }
        if let group = args.group {
            draft.assign(profile: args.profile, group: group)
        } else {
            for id in devices { try draft.assign(profile: args.profile, device: id.rawValue) }
        }
        let target = args.group.map { "group \($0)" } ?? devices.map(\.rawValue).joined(separator: ",")
        draft.audit(
            .profileAssigned, detail: "profile \(args.profile) to \(target)", operatorName: context.operatorName)
        return AssignResult(
            profile: args.profile, devices: args.group == nil ? devices : nil, group: args.group, count: devices.count)
    }

    private func push(_ args: PushArgs, _ context: RequestContext, _ draft: inout Draft) throws -> PushResult {
        var devices = try targets(devices: args.devices, group: args.group, in: draft)
        var next: DeviceID?
        if let group = args.group {
            // A group goes a page at a time, so each request seals a bounded number of envelopes and
            // its reply stays within the size limit.
            (devices, next) = Self.page(devices, args.page, id: \.1.id)
            if devices.isEmpty, args.after == nil {
                throw OperatorError(.unknownDevice, "no enrolled device in group '\(group)'")
            }
        }
        // Check every target before sealing anything.
        var plan: [(DeviceID, StoredProfile)] = []
        for (id, device) in devices {
            if device.state == .revoked {
                throw OperatorError(.revoked, "device '\(id)' is revoked; enroll it again first")
            }
            guard let profile = draft.state.effectiveProfile(for: device) else {
                throw OperatorError(.noProfileAssigned, "no profile assigned to device '\(id)' or its group")
            }
            plan.append((id, profile))
        }
        var pushed: [PushedDevice] = []
        for (id, profile) in plan {
            try seal(profile, for: id, reason: "push by \(context.operatorName)", &draft)
            let seq = try draft.requireDevice(id.rawValue).lastSeq
            pushed.append(PushedDevice(device: id, seq: seq, profile: profile.name))
        }
        return PushResult(pushed: pushed, next: next)
    }

    private func statusTable(_ args: PageArgs, _ context: RequestContext, _ draft: inout Draft) throws -> StatusResult {
        let (page, next) = Self.page(draft.state.sortedDevices, args, id: \.id)
        let rows = try page.map { device in
            DeviceStatusRow(
                device: try DeviceID(device.id), fingerprint: device.fingerprint, group: device.groupName,
                profile: draft.state.effectiveProfile(for: device)?.name, state: device.state, seq: device.lastSeq,
                lastStatus: device.statusState, reason: device.statusReason, statusAt: device.statusAt)
        }
        return StatusResult(
            devices: rows, pending: draft.state.pendingCount, pendingCap: pendingLimits.cap,
            pendingMaxAge: pendingLimits.maxAge, pendingRefused: draft.state.pendingRefused,
            role: roles.role(of: context.operatorName), site: site, next: next)
    }

    private func rejectPending(_ args: DeviceArgs, _ context: RequestContext, _ draft: inout Draft) throws
        -> RejectResult
    {
        guard let entry = draft.state.pending[args.device.rawValue] else {
            throw OperatorError(.notPending, "no pending device '\(args.device)'")
        }
        draft.deletePending(entry.id)
        draft.audit(
            .deviceRejected, device: args.device, fingerprint: entry.fingerprint,
            detail: "removed from pending; a new hello records it again", operatorName: context.operatorName)
        return RejectResult(device: args.device, fingerprint: entry.fingerprint)
    }

    private func purgePending(_ args: PurgeArgs, _ context: RequestContext, _ draft: inout Draft) -> PurgeResult {
        let before = args.olderThan.map { draft.now - $0 } ?? Int64.max
        let purged = draft.state.pending.values.filter { $0.lastSeen <= before }.map(\.id)
        for id in purged { draft.deletePending(id) }
        let scope = args.olderThan.map { " not seen for \($0) s" } ?? ""
        draft.audit(
            .pendingPurged, detail: "\(purged.count) pending device(s)\(scope) removed",
            operatorName: context.operatorName)
        return PurgeResult(purged: purged.count)
    }

    private func revoke(_ args: DeviceArgs, _ context: RequestContext, _ draft: inout Draft) throws -> RevokeResult {
        let id = args.device
        try requireNotReserved(id)
        let device = try draft.storeNewEnvelope(for: id, kind: .reset, assignment: nil) { [identity] seq, key in
            try EnvelopeCrypto.seal(
                reset: ResetCommand(reason: "revoked"), seq: seq, device: id, devicePublicKey: key,
                servicePrivateKey: identity.privateKey)
        }
        draft.send(.clearConfig(device: id))
        draft.send(.publishConfig(device: id, payload: Array((device.envelope ?? "").utf8)))
        draft.audit(
            .deviceRevoked, device: id, fingerprint: device.fingerprint, seq: device.lastSeq,
            operatorName: context.operatorName)
        return RevokeResult(device: id, seq: device.lastSeq)
    }
}

/// The request being answered: its header, who asked, and where the reply goes.
struct RequestContext: Sendable {
    var header: OperatorRequest.Header
    var operatorName: String
    /// The requester's own reply topic for this id: the only place replies go.
    var replyTo: String
    var id: String { header.id }

    /// Nil when the payload has no usable id or the operator name is not a topic level.
    init?(_ payload: [UInt8], from operatorName: String, topics: TopicTree) {
        guard let header = OperatorRequest.Header(payload),
            let own = try? topics.opsReply(operator: operatorName, correlation: header.id)
        else { return nil }
        self.header = header
        self.operatorName = operatorName
        replyTo = own
    }

    func failure(_ code: OperatorErrorCode, _ message: String) -> EngineAction {
        failure(OperatorError(code, message))
    }

    /// The error reply for `error`: operator errors as they are, registry errors under their code.
    func failure(_ error: any Error) -> EngineAction {
        var reply: OperatorError
        switch error {
        case let error as OperatorError: reply = error
        case let error as ProvisioningError:
            reply = OperatorError(OperatorErrorCode(rawValue: error.code.rawValue) ?? .internalError, error.message)
        default: reply = OperatorError(.internalError, "\(error)")
        }
        if reply.message.utf8.count > OperatorError.maxMessageBytes {
            // Cut on bytes; a cut character becomes U+FFFD (3 bytes), hence the margin.
            let head = reply.message.utf8.prefix(OperatorError.maxMessageBytes - 3)
            reply.message = String(decoding: head, as: UTF8.self)
        }
        return .reply(topic: replyTo, payload: Self.encode(.failure(id: id, reply)))
    }

    /// Decodes the op's arguments, runs `body`, and sends the success reply after its actions.
    func run<Args: Decodable, Result: Encodable>(
        _ request: OperatorRequest, _ draft: inout Draft, _ body: (Args, RequestContext, inout Draft) throws -> Result
    ) throws {
        let args: Args
        do {
            args = try request.arguments(Args.self)
        } catch {
            let code: OperatorErrorCode = error.code == .invalidIdentifier ? .invalidDeviceID : .badRequest
            throw OperatorError(code, "malformed arguments: \(error.message)")
        }
        let result = try body(args, self, &draft)
        draft.send(.reply(topic: replyTo, payload: Self.encode(try .success(id: id, result: result))))
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
