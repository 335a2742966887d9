import Testing

@testable import FleetProtocol

@Suite struct DeviceIDTests {
    @Test(arguments: ["a", "omega-a1b2", "A.b_c-9", String(repeating: "x", count: 64)])
    func acceptsValidIDs(_ raw: String) throws {
        #expect(try DeviceID(raw).rawValue == raw)
    }

    @Test(arguments: [
        ("", "empty"), ("a+b", "'+'"), ("a#b", "'#'"), ("a/b", "'/'"), ("a\u{0}b", "NUL"), ("a b", "space"),
        ("é", "byte 0x"), (String(repeating: "x", count: 65), "65 bytes"), ("+", "wildcard"), ("#", "wildcard"),
    ])
    func rejectsInvalidIDsSayingWhy(_ raw: String, _ mention: String) {
        #expect {
            try DeviceID(raw)
        } throws: { error in
            guard let e = error as? ProtocolError else { return false }
            return e.code == .invalidIdentifier && e.message.contains(mention)
        }
    }

    @Test func decodesFromJSONOnlyWhenValid() throws {
        struct Box: FleetMessage {
            static var messageName: String { "box" }
            static var maxBytes: Int { 100 }
            static var hasVersionField: Bool { false }
            var device: DeviceID
            func validationIssues() -> [ValidationIssue] { [] }
        }
        #expect(try MessageCodec.decode(Box.self, from: Array(#"{"device":"ok-1"}"#.utf8)).device.rawValue == "ok-1")
        let e = TestSupport.decodeError(Box.self, #"{"device":"a/b"}"#)
        #expect(e?.code == .invalidIdentifier)
        #expect(e?.message.contains("'/'") == true)
    }
}

@Suite struct TopicTreeTests {
    let tree: TopicTree
    let id = TestSupport.id("omega-a1b2")

    init() throws { tree = try TopicTree() }

    @Test func buildsEveryTopicUnderThePrefix() throws {
        #expect(tree.hello(id) == "bootstrap/v1/devices/omega-a1b2/hello")
        #expect(tree.config(id) == "bootstrap/v1/devices/omega-a1b2/config")
        #expect(tree.status(id) == "bootstrap/v1/devices/omega-a1b2/status")
        #expect(tree.serviceStatus == "bootstrap/v1/service/status")
        #expect(tree.servicePublicKey == "bootstrap/v1/service/pubkey")
        #expect(tree.events == "bootstrap/v1/events")
        #expect(try tree.opsRequest(operator: "alice") == "bootstrap/v1/ops/request/alice")
        #expect(tree.opsRequestFilter == "bootstrap/v1/ops/request/+")
        #expect(throws: ProtocolError.self) { try tree.opsRequest(operator: "a/b") }
        #expect(
            try tree.opsReply(operator: "alice", correlation: "c0ffee01") == "bootstrap/v1/ops/reply/alice/c0ffee01")
        #expect(tree.helloFilter == "bootstrap/v1/devices/+/hello")
        #expect(tree.statusFilter == "bootstrap/v1/devices/+/status")
        #expect(tree.configFilter == "bootstrap/v1/devices/+/config")
        #expect(tree.allFilter == "bootstrap/v1/#")
        #expect(try tree.opsReplyFilter(operator: "alice") == "bootstrap/v1/ops/reply/alice/+")
    }

    @Test func routesEveryTopicItBuilds() throws {
        #expect(tree.route(tree.hello(id)) == .hello(id))
        #expect(tree.route(tree.config(id)) == .config(id))
        #expect(tree.route(tree.status(id)) == .status(id))
        #expect(tree.route(tree.serviceStatus) == .serviceStatus)
        #expect(tree.route(tree.servicePublicKey) == .servicePublicKey)
        #expect(tree.route(tree.events) == .events)
        #expect(tree.route(try tree.opsRequest(operator: "alice")) == .opsRequest(operator: "alice"))
        #expect(
            tree.route(try tree.opsReply(operator: "alice", correlation: "c1"))
                == .opsReply(operator: "alice", correlation: "c1"))
    }

    @Test(arguments: [
        "bootstrap/v2/events", "other/v1/events", "bootstrap/v1", "bootstrap/v1/", "bootstrap/v1/devices/a/other",
        "bootstrap/v1/devices/+/hello", "bootstrap/v1/devices//hello", "bootstrap/v1/devices/a/hello/x",
        "bootstrap/v1/ops/reply/alice", "bootstrap/v1/ops/reply/al#ice/c1",
        "bootstrap/v1/ops/request", "bootstrap/v1/ops/request/+", "bootstrap/v1/ops/request/alice/x",
        "bootstrap/v1/service/other",
        "bootstrapx/v1/events", "bootstrap/v1/events/",
        "bootstrap/v1/devices/\(String(repeating: "a", count: 65))/hello",
    ])
    func ignoresTopicsOutsideTheTree(_ topic: String) {
        #expect(tree.route(topic) == nil)
    }

    @Test func acceptsMultiLevelPrefix() throws {
        let t = try TopicTree(prefix: "site-7/bootstrap")
        #expect(t.hello(id) == "site-7/bootstrap/v1/devices/omega-a1b2/hello")
        #expect(t.route("site-7/bootstrap/v1/events") == .events)
        #expect(t.route("bootstrap/v1/events") == nil)
    }

    @Test(arguments: ["", "/a", "a/", "a//b", "a/+", "#", "a b", "a\u{0}", String(repeating: "p", count: 129)])
    func rejectsInvalidPrefixes(_ prefix: String) {
        #expect(throws: ProtocolError.self) { try TopicTree(prefix: prefix) }
    }

    @Test func rejectsWildcardsInReplyTopicParts() {
        #expect(throws: ProtocolError.self) { try tree.opsReply(operator: "al+ce", correlation: "c1") }
        #expect(throws: ProtocolError.self) { try tree.opsReply(operator: "alice", correlation: "#") }
        #expect(throws: ProtocolError.self) { try tree.opsReply(operator: "", correlation: "c1") }
    }
}
