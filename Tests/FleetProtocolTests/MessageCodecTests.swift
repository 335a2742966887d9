import Crypto
import Foundation
import Testing

@testable import FleetProtocol

/// Known-good payloads of every message kind.
enum Samples {
    static let key = Base64URL.encode([UInt8](repeating: 7, count: 32))
    static let kid = Fingerprint.of(rawPublicKey: [UInt8](repeating: 7, count: 32))
    static let hello =
        #"{"v":1,"device":"omega-a1b2","pubkey":"\#(key)","agent":"0.1.0","caps":["wifi","reset"],"boot":7,"nonce":"9f86d081884c7d65"}"#
    static let status =
        #"{"v":1,"device":"omega-a1b2","state":"failed","seq":12,"reason":"auth_failed","ts":1795312345}"#
    static let envelope =
        #"{"v":1,"kind":"wifi","device":"omega-a1b2","seq":12,"kem":32,"kdf":1,"aead":3,"kid":"3f2a-91c0-7d44-e810","enc":"\#(key)","ct":"\#(Base64URL.encode([UInt8](repeating: 1, count: 40)))"}"#
    static let serviceStatus =
        #"{"v":1,"state":"online","kid":"3f2a-91c0-7d44-e810","version":"0.1.0","ts":1795312345}"#
    static let servicePubkey = #"{"v":1,"pubkey":"\#(key)","kid":"\#(kid)"}"#
    static let event =
        #"{"v":1,"type":"device.pending","device":"omega-a1b2","fingerprint":"3f2a-91c0-7d44-e810","detail":"new","ts":1795312345}"#
    static let request =
        #"{"v":1,"id":"c0ffee01","op":"status","reply_to":"bootstrap/v1/ops/reply/alice/c0ffee01","args":{}}"#
    static let replyOK = #"{"v":1,"id":"c0ffee01","ok":true,"result":{}}"#
    static let replyError =
        #"{"v":1,"id":"c0ffee01","ok":false,"error":{"code":"unknown_device","message":"no device 'x'"}}"#
    static let replyProgress = #"{"v":1,"id":"c0ffee01","progress":{"device":"a","state":"applied"}}"#
    static let profile = #"{"ssid":"Premises","encryption":"psk2","key":"correct horse battery","hidden":false}"#
    static let reset = #"{"reason":"revoked"}"#
}

/// Runs one decoder by name, so one table covers every message kind.
enum AnyDecoder: String, CaseIterable, CustomTestStringConvertible {
    case hello, status, envelope, serviceStatus, servicePubkey, event, request, reply, profile, reset

    var testDescription: String { rawValue }

    var sample: String {
        switch self {
        case .hello: Samples.hello
        case .status: Samples.status
        case .envelope: Samples.envelope
        case .serviceStatus: Samples.serviceStatus
        case .servicePubkey: Samples.servicePubkey
        case .event: Samples.event
        case .request: Samples.request
        case .reply: Samples.replyOK
        case .profile: Samples.profile
        case .reset: Samples.reset
        }
    }

    var maxBytes: Int {
        switch self {
        case .hello: Hello.maxBytes
        case .status: DeviceStatus.maxBytes
        case .envelope: Envelope.maxBytes
        case .serviceStatus: ServiceStatus.maxBytes
        case .servicePubkey: ServicePublicKeyMessage.maxBytes
        case .event: AuditEvent.maxBytes
        case .request: OperatorRequest.maxBytes
        case .reply: OperatorReply.maxBytes
        case .profile: WiFiProfile.maxBytes
        case .reset: ResetCommand.maxBytes
        }
    }

    /// Decodes `bytes`; returns the error or nil.
    func error(_ bytes: [UInt8]) -> ProtocolError? {
        do {
            switch self {
            case .hello: _ = try MessageCodec.decode(Hello.self, from: bytes)
            case .status: _ = try MessageCodec.decode(DeviceStatus.self, from: bytes)
            case .envelope: _ = try MessageCodec.decode(Envelope.self, from: bytes)
            case .serviceStatus: _ = try MessageCodec.decode(ServiceStatus.self, from: bytes)
            case .servicePubkey: _ = try MessageCodec.decode(ServicePublicKeyMessage.self, from: bytes)
            case .event: _ = try MessageCodec.decode(AuditEvent.self, from: bytes)
            case .request: _ = try MessageCodec.decode(OperatorRequest.self, from: bytes)
            case .reply: _ = try MessageCodec.decode(OperatorReply.self, from: bytes)
            case .profile: _ = try MessageCodec.decode(WiFiProfile.self, from: bytes)
            case .reset: _ = try MessageCodec.decode(ResetCommand.self, from: bytes)
            }
            return nil
        } catch {
            return error
        }
    }

    func error(_ json: String) -> ProtocolError? { error(Array(json.utf8)) }

    /// Decodes `bytes` and encodes the message again (throws the decoder's or encoder's error).
    func reencode(_ bytes: [UInt8]) throws -> [UInt8] {
        func again<T: FleetMessage>(_ t: T.Type) throws -> [UInt8] {
            try MessageCodec.encode(try MessageCodec.decode(t, from: bytes))
        }
        switch self {
        case .hello: return try again(Hello.self)
        case .status: return try again(DeviceStatus.self)
        case .envelope: return try again(Envelope.self)
        case .serviceStatus: return try again(ServiceStatus.self)
        case .servicePubkey: return try again(ServicePublicKeyMessage.self)
        case .event: return try again(AuditEvent.self)
        case .request: return try again(OperatorRequest.self)
        case .reply: return try again(OperatorReply.self)
        case .profile: return try again(WiFiProfile.self)
        case .reset: return try again(ResetCommand.self)
        }
    }

    /// The sample as a mutable JSON object.
    func object() throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(sample.utf8)) as? [String: Any])
    }

    static func json(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}

@Suite struct MessageCodecTests {
    @Test(arguments: AnyDecoder.allCases)
    func acceptsTheDocumentedExample(_ d: AnyDecoder) {
        #expect(d.error(d.sample) == nil)
    }

    /// Foundation's decoder keeps the first of two same-named members, JSONSerialization and json-c
    /// the last: a payload that two receivers could read differently is refused by all of them.
    @Test(arguments: AnyDecoder.allCases)
    func refusesAMemberNameTwice(_ d: AnyDecoder) throws {
        let body = d.sample.dropFirst()  // without the opening brace
        let firstMember = String(body.prefix(while: { $0 != "," && $0 != "}" }))
        for twice in [
            "{" + firstMember + "," + body,  // the same member again
            "{\"zz\":{\"a\":1,\"a\":2}," + body,  // in a nested object
            "{\"zz\":[{\"b\":1},{\"b\":2,\"\\u0062\":3}]," + body,  // in an array, spelt with an escape
        ] {
            let error = try #require(d.error(twice), "accepted: \(twice)")
            #expect(error.code == .malformedJSON, "\(error)")
            #expect(error.message.contains("member name twice"), "\(error)")
        }
        // A ':' inside a string, even after an escaped quote, is not a member.
        #expect(d.error("{\"zz:\":\"a\\\":b\"," + body) == nil)
    }

    @Test(arguments: AnyDecoder.allCases)
    func ignoresUnknownFields(_ d: AnyDecoder) throws {
        var o = try d.object()
        o["zz_future"] = ["nested": [1, 2, 3]]
        o["aa_other"] = "x"
        #expect(d.error(try AnyDecoder.json(o)) == nil)
    }

    @Test(arguments: AnyDecoder.allCases)
    func rejectsMalformedJSON(_ d: AnyDecoder) {
        for bad in ["", "{", "{\"v\":1,", "[]", "null", "42", "\"text\"", "{'v':1}", "{\"v\":1}}x", "\u{FEFF}{}"] {
            let e = d.error(bad)
            #expect(e != nil, "accepted \(bad.debugDescription)")
            if let e {
                #expect([.malformedJSON, .missingField].contains(e.code), "\(bad.debugDescription) → \(e)")
            }
        }
        #expect(d.error([0xFF, 0xFE, 0x7B, 0x7D])?.code == .malformedJSON)
    }

    @Test(arguments: AnyDecoder.allCases)
    func rejectsOversizePayloadsBeforeParsing(_ d: AnyDecoder) {
        // Not even JSON: the size check must come first.
        let e = d.error([UInt8](repeating: UInt8(ascii: "{"), count: d.maxBytes + 1))
        #expect(e?.code == .tooLarge)
        #expect(e?.message.contains("\(d.maxBytes + 1) bytes") == true)
    }

    @Test(arguments: AnyDecoder.allCases)
    func rejectsEveryMissingRequiredFieldNamingIt(_ d: AnyDecoder) throws {
        let optional: Set<String> = [
            "reason", "detail", "hidden", "bssid", "device", "fingerprint", "seq", "state", "operator", "args",
            "result", "error", "progress", "ok",
        ]
        let o = try d.object()
        for field in o.keys {
            if optional.contains(field) && !(d == .status && field == "seq") && !(d == .status && field == "device")
                && !(d == .serviceStatus && field == "state") && !(d == .status && field == "state")
            {
                continue
            }
            var copy = o
            copy.removeValue(forKey: field)
            let e = d.error(try AnyDecoder.json(copy))
            if d == .profile && field == "key" {
                // Optional in the schema, required by the rule for psk2: a validation issue.
                #expect(e?.code == .invalidField && e?.issues.map(\.field) == ["key"])
                continue
            }
            #expect(e?.code == .missingField, "\(d) without \(field): \(String(describing: e))")
            #expect(e?.message.contains("'\(field)'") == true, "\(String(describing: e))")
        }
    }

    @Test(arguments: AnyDecoder.allCases)
    func rejectsWrongTypesNamingTheField(_ d: AnyDecoder) throws {
        let o = try d.object()
        for (field, value) in o where field != "result" && field != "progress" {
            var copy = o
            // Swap each value for one of another JSON type.
            copy[field] = (value is String || value is [String: Any]) ? 17 : ["not": "right"]
            let e = d.error(try AnyDecoder.json(copy))
            #expect(e != nil, "\(d).\(field) with wrong type accepted")
            if let e {
                #expect(e.message.contains(field), "\(d).\(field): \(e)")
            }
        }
    }

    @Test(arguments: [AnyDecoder.hello, .envelope, .servicePubkey])
    func rejectsBadBase64(_ d: AnyDecoder) throws {
        for bad in ["AAAA=", "AA+A", "AA/A", "A", "AB", "a b c d", "ÄÄÄÄ"] {
            var o = try d.object()
            let field = d == .envelope ? "enc" : "pubkey"
            o[field] = bad
            let e = d.error(try AnyDecoder.json(o))
            #expect(e?.code == .badBase64, "\(bad): \(String(describing: e))")
            #expect(e?.message.contains(field) == true)
        }
    }

    @Test(arguments: [AnyDecoder.hello, .status, .envelope, .event])
    func rejectsDeviceIDsWithWildcardsOrBadLength(_ d: AnyDecoder) throws {
        for bad in ["+", "#", "a/b", "a\u{0}b", "", String(repeating: "a", count: 65), "omega a1"] {
            var o = try d.object()
            o["device"] = bad
            let e = d.error(try AnyDecoder.json(o))
            #expect(e?.code == .invalidIdentifier, "\(bad.debugDescription): \(String(describing: e))")
            #expect(e?.message.contains("device") == true)
        }
    }

    @Test(arguments: AnyDecoder.allCases.filter { $0 != .profile && $0 != .reset })
    func rejectsOtherProtocolVersions(_ d: AnyDecoder) throws {
        var o = try d.object()
        o["v"] = 2
        let e = d.error(try AnyDecoder.json(o))
        #expect(e?.code == .invalidField)
        #expect(e?.message.contains("version 2") == true)
    }

    @Test func rejectsUnknownEnumValuesListingTheAllowedOnes() {
        let e = AnyDecoder.status.error(Samples.status.replacingOccurrences(of: "\"failed\"", with: "\"exploded\""))
        #expect(e?.code == .invalidField)
        #expect(e?.message.contains("state") == true)
        #expect(e?.message.contains("applied") == true)
    }

    @Test func reportsEveryRuleViolationOfAHello() {
        let json =
            #"{"v":1,"device":"d","pubkey":"AAAA","agent":"","caps":["WiFi"],"boot":1,"nonce":"xyz"}"#
        let e = AnyDecoder.hello.error(json)
        #expect(e?.code == .invalidField)
        #expect(Set(e?.issues.map(\.field) ?? []) == ["pubkey", "agent", "caps.0", "nonce"])
    }

    @Test func statusReasonFollowsTheState() {
        func err(_ s: String) -> ProtocolError? { AnyDecoder.status.error(s) }
        #expect(err(#"{"v":1,"device":"d","state":"failed","seq":3,"ts":1}"#)?.issues.first?.field == "reason")
        #expect(err(#"{"v":1,"device":"d","state":"applied","seq":3,"reason":"timeout","ts":1}"#) != nil)
        #expect(err(#"{"v":1,"device":"d","state":"online","seq":0,"reason":"rolled_back","ts":1}"#) == nil)
        #expect(err(#"{"v":1,"device":"d","state":"online","seq":0,"reason":"timeout","ts":1}"#) != nil)
        #expect(err(#"{"v":1,"device":"d","state":"offline","seq":0,"ts":1}"#) == nil)
        let long = String(repeating: "x", count: 201)
        #expect(
            err(#"{"v":1,"device":"d","state":"applied","seq":3,"detail":"\#(long)","ts":1}"#)?.issues.first?.field
                == "detail")
    }

    @Test func rejectsOutOfRangeNumbers() {
        let tooBig =
            #"{"v":1,"kind":"wifi","device":"d","seq":9007199254740992,"kem":32,"kdf":1,"aead":3,"kid":"3f2a-91c0-7d44-e810","enc":"\#(Samples.key)","ct":"AAAAAAAAAAAAAAAAAAAAAAA"}"#
        #expect(AnyDecoder.envelope.error(tooBig)?.issues.first?.field == "seq")
        let negative = tooBig.replacingOccurrences(of: "9007199254740992", with: "-1")
        #expect(
            AnyDecoder.envelope.error(negative)?.message.contains("seq") == true,
            "\(String(describing: AnyDecoder.envelope.error(negative)))")
        let fraction = tooBig.replacingOccurrences(of: "9007199254740992", with: "1.5")
        #expect(AnyDecoder.envelope.error(fraction)?.message.contains("seq") == true)
        let zero = tooBig.replacingOccurrences(of: "9007199254740992", with: "0")
        #expect(AnyDecoder.envelope.error(zero)?.issues.first?.field == "seq")
    }

    @Test func envelopeRejectsOtherSuitesAndLengths() throws {
        var o = try AnyDecoder.envelope.object()
        o["aead"] = 1
        #expect(AnyDecoder.envelope.error(try AnyDecoder.json(o))?.message.contains("suite") == true)
        o = try AnyDecoder.envelope.object()
        o["enc"] = Base64URL.encode([UInt8](repeating: 1, count: 31))
        #expect(AnyDecoder.envelope.error(try AnyDecoder.json(o))?.issues.first?.field == "enc")
        o = try AnyDecoder.envelope.object()
        o["ct"] = Base64URL.encode([UInt8](repeating: 1, count: 16))
        #expect(AnyDecoder.envelope.error(try AnyDecoder.json(o))?.issues.first?.field == "ct")
        o = try AnyDecoder.envelope.object()
        o["kid"] = "3F2A-91C0-7D44-E810"
        #expect(AnyDecoder.envelope.error(try AnyDecoder.json(o))?.issues.first?.field == "kid")
    }

    @Test func servicePublicKeyKidMustMatchTheKey() {
        let wrong = Samples.servicePubkey.replacingOccurrences(of: Samples.kid, with: "0000-0000-0000-0000")
        #expect(AnyDecoder.servicePubkey.error(wrong)?.message.contains("does not match") == true)
    }

    @Test func operatorReplyShapesAreEnforced() {
        #expect(AnyDecoder.reply.error(Samples.replyError) == nil)
        #expect(AnyDecoder.reply.error(Samples.replyProgress) == nil)
        #expect(AnyDecoder.reply.error(#"{"v":1,"id":"c1"}"#)?.issues.first?.field == "ok")
        #expect(AnyDecoder.reply.error(#"{"v":1,"id":"c1","ok":false}"#)?.issues.first?.field == "error")
        #expect(
            AnyDecoder.reply.error(#"{"v":1,"id":"c1","ok":true,"progress":{}}"#)?.issues.first?.field == "progress")
        #expect(AnyDecoder.reply.error(#"{"v":1,"id":"c+1","ok":true}"#)?.issues.first?.field == "id")
    }

    @Test func operatorRequestChecksIdsAndReplyTopic() throws {
        #expect(
            AnyDecoder.request.error(#"{"v":1,"id":"c1","op":"status","reply_to":"x/#"}"#)?.issues.first?.field
                == "reply_to")
        #expect(
            AnyDecoder.request.error(#"{"v":1,"id":"c/1","op":"status","reply_to":"x"}"#)?.issues.first?.field == "id")
        #expect(
            AnyDecoder.request.error(#"{"v":1,"id":"c1","op":"status","reply_to":"x","args":[1]}"#)?.issues.first?.field
                == "args")
        let r = try MessageCodec.decode(OperatorRequest.self, from: Array(Samples.request.utf8))
        let tree = try TopicTree()
        #expect(r.replyTopicMatches(operator: "alice", in: tree))
        #expect(!r.replyTopicMatches(operator: "mallory", in: tree))
    }

    @Test func encodesDeterministicallyWithSortedKeys() throws {
        let s = DeviceStatus(
            device: TestSupport.id("omega-a1b2"), state: .failed, seq: 12, reason: .authFailed, ts: 1_795_312_345)
        let json = try MessageCodec.encodeString(s)
        #expect(
            json == #"{"device":"omega-a1b2","reason":"auth_failed","seq":12,"state":"failed","ts":1795312345,"v":1}"#)
        #expect(try MessageCodec.encode(s) == MessageCodec.encode(s))
        let r = OperatorRequest(id: "c1", op: .status, replyTo: "bootstrap/v1/ops/reply/alice/c1")
        #expect(try MessageCodec.encodeString(r).contains(#""reply_to":"bootstrap/v1/ops/reply/alice/c1""#))
    }

    @Test func refusesToEncodeInvalidMessages() {
        let s = DeviceStatus(device: TestSupport.id("d"), state: .failed, seq: 1, ts: 1)
        #expect(throws: ProtocolError.self) { try MessageCodec.encode(s) }
    }

    @Test func roundTripsEveryMessageKind() throws {
        let id = TestSupport.id("omega-a1b2")
        let key = Curve25519.KeyAgreement.PrivateKey().publicKey
        let hello = Hello(device: id, publicKey: key, agent: "0.1.0", caps: ["wifi"], boot: 3, nonce: "ab12")
        #expect(try MessageCodec.decode(Hello.self, from: MessageCodec.encode(hello)) == hello)
        #expect(try hello.publicKey().rawRepresentation == key.rawRepresentation)
        let pk = ServicePublicKeyMessage(publicKey: key)
        #expect(try MessageCodec.decode(ServicePublicKeyMessage.self, from: MessageCodec.encode(pk)) == pk)
        let ss = ServiceStatus(state: .online, kid: Fingerprint.of(key), version: "0.1.0", ts: 5)
        #expect(try MessageCodec.decode(ServiceStatus.self, from: MessageCodec.encode(ss)) == ss)
        let ev = AuditEvent(
            type: .devicePending, device: id, fingerprint: Fingerprint.of(key), operatorName: "alice", ts: 9)
        let evJSON = try MessageCodec.encodeString(ev)
        #expect(evJSON.contains(#""operator":"alice""#))
        #expect(try MessageCodec.decode(AuditEvent.self, from: Array(evJSON.utf8)) == ev)
        let progress = OperatorReply.progress(id: "c1", .object(["done": .int(3), "total": .int(10)]))
        #expect(try MessageCodec.decode(OperatorReply.self, from: MessageCodec.encode(progress)) == progress)
        #expect(!progress.isFinal)
        let fail = OperatorReply.failure(id: "c1", OperatorError(.unknownDevice, "no device 'x'"))
        #expect(try MessageCodec.decode(OperatorReply.self, from: MessageCodec.encode(fail)) == fail)
    }

    @Test func operatorArgumentsAreTypedAndValidatedOnDecode() throws {
        let ok = OperatorRequest(
            id: "c1", op: .revoke, replyTo: "bootstrap/v1/ops/reply/alice/c1", args: .object(["device": .string("d-1")])
        )
        #expect(try ok.arguments(DeviceArgs.self).device == TestSupport.id("d-1"))
        let badID = OperatorRequest(
            id: "c1", op: .revoke, replyTo: "bootstrap/v1/ops/reply/alice/c1", args: .object(["device": .string("a/b")])
        )
        #expect(throws: ProtocolError.self) { try badID.arguments(DeviceArgs.self) }
        do {
            _ = try badID.arguments(DeviceArgs.self)
        } catch {
            #expect(error.code == .invalidIdentifier)
        }
        let noFingerprint = OperatorRequest(
            id: "c1", op: .approve, replyTo: "bootstrap/v1/ops/reply/alice/c1", args: .object(["device": .string("d")]))
        do {
            _ = try noFingerprint.arguments(ApproveArgs.self)
            Issue.record("approve without a fingerprint decoded")
        } catch {
            #expect(error.code == .missingField)
            #expect(error.message.contains("fleetctl pending"))
        }
        #expect(
            AnyDecoder.request.error(#"{"v":1,"id":"c1","op":"frobnicate","reply_to":"x"}"#)?.issues.first?.field
                == "op")
    }

    /// Issue 12: `pending.purge` takes an optional non-negative `older_than`; a status from a
    /// provisiond without roles or pending limits still decodes; roles have their wire names.
    @Test func pendingPurgeArgumentsRolesAndStatusFieldsDecode() throws {
        func purge(_ args: JSONValue) throws -> PurgeArgs {
            try OperatorRequest(id: "c1", op: .pendingPurge, replyTo: "bootstrap/v1/ops/reply/alice/c1", args: args)
                .arguments(PurgeArgs.self)
        }
        #expect(try purge(.object([:])).olderThan == nil)
        #expect(try purge(.object(["older_than": .int(600)])).olderThan == 600)
        #expect(throws: ProtocolError.self) { try purge(.object(["older_than": .int(-1)])) }
        #expect(OperatorRole.allCases.map(\.rawValue) == ["read-only", "installer", "admin"])
        let old = try JSONDecoder().decode(StatusResult.self, from: Data(#"{"devices":[],"pending":3}"#.utf8))
        #expect(old.pending == 3 && old.role == nil && old.pendingCap == nil)
        let new = try JSONDecoder().decode(
            StatusResult.self,
            from: Data(
                #"{"devices":[],"pending":3,"pending_cap":10,"pending_max_age":60,"pending_refused":2,"role":"installer"}"#
                    .utf8))
        #expect(new.role == .installer && new.pendingCap == 10 && new.pendingMaxAge == 60 && new.pendingRefused == 2)
    }

    @Test func operatorRepliesCarryTypedResultsAndErrors() throws {
        let result = StatusResult(
            devices: [
                DeviceStatusRow(
                    device: TestSupport.id("d"), fingerprint: "3f2a-91c0-7d44-e810", group: nil, profile: "p",
                    state: .failed, seq: 3, lastStatus: .failed, reason: .authFailed, statusAt: 9)
            ], pending: 0)
        let reply = try OperatorReply.success(id: "c1", result: result)
        let json = try MessageCodec.encodeString(reply)
        #expect(json.contains(#""last_status":"failed""#))
        #expect(json.contains(#""reason":"auth_failed""#))
        let decoded = try MessageCodec.decode(OperatorReply.self, from: Array(json.utf8))
        #expect(try decoded.decodeResult(StatusResult.self) == result)
        let failed = OperatorReply.failure(id: "c1", OperatorError(.unknownDevice, "no device 'x'"))
        #expect(throws: OperatorError(.unknownDevice, "no device 'x'")) { try failed.decodeResult(NoArguments.self) }
        // An error code outside Topics.md's list does not decode.
        let unknown = #"{"v":1,"id":"c1","ok":false,"error":{"code":"made_up","message":"?"}}"#
        #expect(AnyDecoder.reply.error(unknown)?.issues.first?.field == "error.code")
        #expect(OperatorRequest.Header(Array(Samples.request.utf8))?.op == "status")
        #expect(OperatorRequest.Header(Array("nope".utf8)) == nil)
    }

    @Test func jsonValueConvertsTypedArguments() throws {
        struct PushArgs: Codable, Equatable {
            var devices: [String]
            var profile: String
        }
        let args = PushArgs(devices: ["a", "b"], profile: "premises")
        let value = try JSONValue(encoding: args)
        #expect(try value.decode(PushArgs.self) == args)
        #expect(throws: ProtocolError.self) { try JSONValue.object([:]).decode(PushArgs.self) }
    }
}

@Suite("Audit events")
struct AuditEventTests {
    @Test(arguments: AuditEventType.allCases)
    func everyEventTypeRoundTripsUnderItsWireName(_ type: AuditEventType) throws {
        let event = AuditEvent(type: type, ts: 1_795_312_345)
        let json = try MessageCodec.encodeString(event)
        #expect(json.contains(#""type":"\#(type.rawValue)""#))
        #expect(try MessageCodec.decode(AuditEvent.self, from: Array(json.utf8)) == event)
    }

    @Test(arguments: [
        #"{"v":1,"type":"device.exploded","ts":1795312345}"#,
        #"{"v":1,"type":"device.failed","state":"pending","ts":1795312345}"#,
        #"{"v":1,"type":"device.failed","state":"failed","reason":"bored","ts":1795312345}"#,
    ])
    func unknownTypeStateOrReasonIsRejectedOnDecode(_ json: String) {
        #expect(throws: ProtocolError.self) { try MessageCodec.decode(AuditEvent.self, from: Array(json.utf8)) }
    }

    @Test func failedEventKeepsItsWireBytes() throws {
        let json =
            #"{"device":"omega-a1b2","reason":"auth_failed","seq":3,"state":"failed","ts":1795312345,"type":"device.failed","v":1}"#
        let event = try MessageCodec.decode(AuditEvent.self, from: Array(json.utf8))
        #expect(event.state == .failed && event.reason == .authFailed)
        #expect(try MessageCodec.encodeString(event) == json)
    }

    /// Topics.md lists every type provisiond emits; the enum and the document agree.
    @Test func topicsDocumentListsExactlyTheEventTypes() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Topics.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        let section = try #require(text.range(of: "Audit event `type`s"))
        let paragraph = String(text[section.upperBound...]).components(separatedBy: "\n\n")[0]
        for type in AuditEventType.allCases {
            #expect(paragraph.contains("`\(type.rawValue)`"), "Topics.md lacks \(type.rawValue)")
        }
    }
}
