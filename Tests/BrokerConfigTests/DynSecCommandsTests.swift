import FleetProtocol
import Foundation
import Provisioning
import Testing

@Suite("DynSecCommands (no broker)")
struct DynSecCommandsTests {
    private func json(_ bytes: [UInt8]) throws -> [[String: Any]] {
        let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        return try #require(object?["commands"] as? [[String: Any]])
    }

    @Test func registerCreatesRoleThenClientBoundToItsClientID() throws {
        let commands = try json(
            DynSecCommands.registerDevice(DeviceID("omega-a1b2"), password: "pw", topics: TopicTree(prefix: "site/x")))
        #expect(commands.map { $0["command"] as? String } == ["createRole", "createClient"])
        #expect(commands[0]["rolename"] as? String == "device-omega-a1b2")
        let acls = try #require(commands[0]["acls"] as? [[String: Any]])
        let pairs = acls.map {
            "\($0["acltype"] as? String ?? "") \($0["topic"] as? String ?? "") \($0["allow"] as? Bool ?? false)"
        }
        #expect(
            Set(pairs) == [
                "subscribeLiteral site/x/v1/devices/omega-a1b2/config true",
                "publishClientReceive site/x/v1/devices/omega-a1b2/config true",
                "publishClientSend site/x/v1/devices/omega-a1b2/hello true",
                "publishClientSend site/x/v1/devices/omega-a1b2/status true",
            ])
        #expect(commands[1]["username"] as? String == "omega-a1b2")
        #expect(commands[1]["clientid"] as? String == "omega-a1b2")
        #expect(commands[1]["password"] as? String == "pw")
        let roles = try #require(commands[1]["roles"] as? [[String: Any]])
        #expect(roles.map { $0["rolename"] as? String } == ["device-omega-a1b2"])
    }

    @Test func removeDeletesClientThenRole() throws {
        let commands = try json(DynSecCommands.removeDevice(DeviceID("omega-a1b2")))
        #expect(commands.map { $0["command"] as? String } == ["deleteClient", "deleteRole"])
        #expect(commands[0]["username"] as? String == "omega-a1b2")
        #expect(commands[1]["rolename"] as? String == "device-omega-a1b2")
    }

    /// Commands take a `DeviceID` and a `TopicTree`: an id or prefix outside Topics.md cannot reach them.
    @Test(arguments: ["", "+", "#", "a/b", "a b", "é", String(repeating: "a", count: 65), "a\u{0}"])
    func deviceIDsOutsideTopicsMDCannotReachACommand(id: String) {
        #expect(throws: ProtocolError.self) { try DeviceID(id) }
    }

    @Test(arguments: ["", "/a", "a/", "a//b", "a/+/b", "#", String(repeating: "p", count: 129)])
    func prefixesOutsideTopicsMDCannotReachACommand(prefix: String) {
        #expect(throws: ProtocolError.self) { try TopicTree(prefix: prefix) }
    }

    @Test func rejectsEmptyPassword() throws {
        let device = try DeviceID("d")
        #expect(throws: ProvisioningError(.invalidArgument, "password must be 1–256 bytes without NUL")) {
            try DynSecCommands.registerDevice(device, password: "", topics: TopicTree())
        }
    }

    @Test func registrationSucceedsWhenBothCommandsSucceed() throws {
        let payload = Array(
            #"{"responses":[{"command":"createRole","correlationData":"fleet:register:d1:role"},{"command":"createClient","correlationData":"fleet:register:d1:client"}]}"#
                .utf8)
        let responses = try DynSecCommands.parseResponses(payload)
        let result = try #require(DynSecCommands.result(of: .registerDevice(try DeviceID("d1")), in: responses))
        #expect(throws: Never.self) { try result.get() }
    }

    @Test func registrationToleratesAnExistingRoleButNotAnExistingAccount() throws {
        let responses = [
            DynSecResponse(
                command: "createRole", error: "Role already exists", correlationData: "fleet:register:d1:role"),
            DynSecResponse(
                command: "createClient", error: "Client already exists", correlationData: "fleet:register:d1:client"),
        ]
        let result = try #require(DynSecCommands.result(of: .registerDevice(try DeviceID("d1")), in: responses))
        #expect(throws: ProvisioningError.self) { try result.get() }
        if case .failure(let error) = result { #expect(error.code == .alreadyRegistered) }
    }

    @Test func removalOfAnUnknownDeviceIsNotAnError() throws {
        let responses = [
            DynSecResponse(
                command: "deleteClient", error: "Client not found", correlationData: "fleet:remove:d1:client"),
            DynSecResponse(command: "deleteRole", error: "Role not found", correlationData: "fleet:remove:d1:role"),
        ]
        let result = try #require(DynSecCommands.result(of: .removeDevice(try DeviceID("d1")), in: responses))
        #expect(throws: Never.self) { try result.get() }
    }

    @Test func otherErrorsAreReportedWithTheCommand() throws {
        let responses = [
            DynSecResponse(command: "createRole", correlationData: "fleet:register:d1:role"),
            DynSecResponse(
                command: "createClient", error: "Internal error", correlationData: "fleet:register:d1:client"),
        ]
        let result = try #require(DynSecCommands.result(of: .registerDevice(try DeviceID("d1")), in: responses))
        #expect(throws: ProvisioningError(.refused, "createClient: Internal error")) { try result.get() }
    }

    @Test func answersToOtherOperationsAreIgnored() throws {
        let responses = [
            DynSecResponse(command: "createClient", correlationData: "fleet:register:d10:client"),
            DynSecResponse(command: "listClients"),
        ]
        #expect(DynSecCommands.result(of: .registerDevice(try DeviceID("d1")), in: responses) == nil)
    }

    @Test func onlyHarmlessAnswersAreNotProblems() {
        #expect(DynSecCommands.problem(in: DynSecResponse(command: "createClient")) == nil)
        for (command, error) in [
            ("createRole", "Role already exists"), ("deleteClient", "Client not found"),
            ("deleteRole", "Role not found"),
        ] {
            #expect(DynSecCommands.problem(in: DynSecResponse(command: command, error: error)) == nil)
        }
        let taken = DynSecCommands.problem(
            in: DynSecResponse(
                command: "createClient", error: "Client already exists", correlationData: "fleet:register:d1:client"))
        #expect(taken?.code == .alreadyRegistered)
        #expect(taken?.message.contains("'d1'") == true)
        // The same text from another command is not harmless.
        #expect(
            DynSecCommands.problem(in: DynSecResponse(command: "createClient", error: "Role not found"))?.code
                == .refused)
    }

    /// Issue 12, F3: only an account with provisiond's text name and exactly the device's role is
    /// provisiond's own; the answer shape is mosquitto 2.0.11's `getClient`.
    @Test func onlyAccountsProvisiondCreatedAreItsOwn() throws {
        let id = try DeviceID("monitor")
        let check = try json(DynSecCommands.checkAccount(id))
        #expect(check.first?["command"] as? String == "getClient" && check.first?["username"] as? String == "monitor")
        func answer(_ textname: String, _ roles: [String]) throws -> DynSecResponse {
            let roleList = roles.map { #"{"rolename":"\#($0)"}"# }.joined(separator: ",")
            let payload = Array(
                #"{"responses":[{"command":"getClient","data":{"client":{"username":"monitor","textname":"\#(textname)","roles":[\#(roleList)],"groups":[]}},"correlationData":"fleet:check:monitor"}]}"#
                    .utf8)
            return try #require(try DynSecCommands.parseResponses(payload).first)
        }
        let site = try answer("monitor", ["monitor"])
        #expect(DynSecCommands.checkedAccount(in: site) == id)
        #expect(!DynSecCommands.isDeviceAccount(try #require(site.data?.client), of: id))
        let extraRole = try answer("device monitor", ["device-monitor", "admin"])
        #expect(!DynSecCommands.isDeviceAccount(try #require(extraRole.data?.client), of: id))
        let own = try answer("device monitor", ["device-monitor"])
        #expect(DynSecCommands.isDeviceAccount(try #require(own.data?.client), of: id))
        #expect(DynSecCommands.problem(in: DynSecResponse(command: "getClient", error: "Client not found")) == nil)
    }

    @Test func malformedResponsesAreRejected() {
        #expect(throws: ProvisioningError.self) { try DynSecCommands.parseResponses(Array("nope".utf8)) }
        #expect(throws: ProvisioningError.self) { try DynSecCommands.parseResponses(Array(#"{"x":[]}"#.utf8)) }
    }
}
