import FleetProtocol
import Foundation

// Commands for Mosquitto's dynamic security plugin (mosquitto 2.0), built and parsed without I/O.
//
// provisiond publishes the payloads to `DynSecCommands.controlTopic` (QoS 1) with its own account,
// whose role allows `$CONTROL/dynamic-security/#`, and reads the plugin's answers on
// `DynSecCommands.responseTopic`. The plugin broadcasts every answer to every subscriber of that
// topic, so each command carries a correlation id that names the operation and the device, and
// `DynSecCommands.result(of:in:)` picks out the answers that belong to one operation.

/// One ACL entry of a dynsec role.
public struct DynSecACL: Sendable, Hashable, Codable {
    /// The dynsec ACL types this project uses.
    public enum Kind: String, Sendable, Hashable, Codable {
        case publishClientSend, publishClientReceive, subscribeLiteral, subscribePattern
        case unsubscribeLiteral, unsubscribePattern
    }

    public let acltype: Kind
    public let topic: String
    public let allow: Bool

    public init(_ acltype: Kind, _ topic: String, allow: Bool = true) {
        self.acltype = acltype
        self.topic = topic
        self.allow = allow
    }
}

/// One answer of the plugin to one command.
public struct DynSecResponse: Sendable, Hashable, Codable {
    public let command: String
    /// Absent when the command succeeded.
    public let error: String?
    public let correlationData: String?
    /// What `getClient` answers; absent for the other commands.
    public let data: ClientData?

    public init(command: String, error: String? = nil, correlationData: String? = nil, data: ClientData? = nil) {
        self.command = command
        self.error = error
        self.correlationData = correlationData
        self.data = data
    }

    /// `{"client":{...}}`, the `data` of a `getClient` answer.
    public struct ClientData: Sendable, Hashable, Codable {
        public let client: Account?

        public init(client: Account?) { self.client = client }
    }

    /// The parts of a broker account that say who created it.
    public struct Account: Sendable, Hashable, Codable {
        public let username: String
        public let textname: String?
        public let roles: [Role]?

        public init(username: String, textname: String?, roles: [Role]?) {
            self.username = username
            self.textname = textname
            self.roles = roles
        }
    }

    public struct Role: Sendable, Hashable, Codable {
        public let rolename: String

        public init(rolename: String) { self.rolename = rolename }
    }
}

/// An operation on the broker's account store whose outcome `DynSecCommands.result(of:in:)` reports.
public enum DynSecOperation: Sendable, Hashable {
    case registerDevice(DeviceID)
    case removeDevice(DeviceID)

    /// The correlation id prefix carried by every command of this operation.
    var correlationPrefix: String {
        switch self {
        case .registerDevice(let id): "fleet:register:\(id):"
        case .removeDevice(let id): "fleet:remove:\(id):"
        }
    }

    /// The commands the operation sends, in order, with their correlation suffix.
    var steps: [(command: String, suffix: String)] {
        switch self {
        case .registerDevice: [("createRole", "role"), ("createClient", "client")]
        case .removeDevice: [("deleteClient", "client"), ("deleteRole", "role")]
        }
    }
}

/// Builds `$CONTROL/dynamic-security/v1` payloads for device accounts and parses the answers.
public enum DynSecCommands {
    /// Where commands are published (QoS 1, not retained).
    public static let controlTopic = "$CONTROL/dynamic-security/v1"
    /// Where the plugin publishes its answers.
    public static let responseTopic = "$CONTROL/dynamic-security/v1/response"

    /// The role that holds one device's ACLs.
    public static func deviceRoleName(_ id: DeviceID) -> String { "device-\(id)" }

    /// The `textname` provisiond gives the accounts and roles it creates: with the role name, the
    /// mark that an account is provisiond's own (``isDeviceAccount(_:of:)``).
    public static func deviceTextName(_ id: DeviceID) -> String { "device \(id)" }

    /// Correlation data of the `getClient` that checks an account before it is deleted.
    static let checkPrefix = "fleet:check:"

    /// Asks the plugin for the account named `id`, so that provisiond deletes only its own accounts.
    public static func checkAccount(_ id: DeviceID) -> [UInt8] {
        encode([Command(command: "getClient", correlationData: checkPrefix + id.rawValue, username: id.rawValue)])
    }

    /// The device id a `getClient` answer to ``checkAccount(_:)`` is about, else nil.
    public static func checkedAccount(in response: DynSecResponse) -> DeviceID? {
        guard response.command == "getClient", let correlation = response.correlationData,
            correlation.hasPrefix(checkPrefix)
        else { return nil }
        return try? DeviceID(String(correlation.dropFirst(checkPrefix.count)))
    }

    /// Whether `account` is one provisiond created for device `id`: the text name it sets and
    /// exactly the device's own role. Site accounts (admin, provisiond, hello, operators, monitors)
    /// and anything an administrator made by hand fail this check and are never deleted.
    public static func isDeviceAccount(_ account: DynSecResponse.Account, of id: DeviceID) -> Bool {
        account.username == id.rawValue && account.textname == deviceTextName(id)
            && (account.roles ?? []).map(\.rolename) == [deviceRoleName(id)]
    }

    /// The ACLs of a device: receive only its own config, publish only its own hello and status.
    ///
    /// Device ids cannot contain `+`, `#` or `/`, so the topics are literal and the config
    /// subscription is matched as a literal, not as a pattern.
    public static func deviceACLs(_ id: DeviceID, topics: TopicTree) -> [DynSecACL] {
        [
            DynSecACL(.subscribeLiteral, topics.config(id)),
            DynSecACL(.publishClientReceive, topics.config(id)),
            DynSecACL(.publishClientSend, topics.hello(id)),
            DynSecACL(.publishClientSend, topics.status(id)),
        ]
    }

    /// Creates the device's role and its account: username = client id = device id, so the broker
    /// refuses these credentials with any other client id.
    ///
    /// - Parameters:
    ///   - id: the device id; ``DeviceID`` guarantees Topics.md's rules, so it is a safe username and
    ///     topic level.
    ///   - password: the derived broker password (Topics.md, "Derived broker password"). It travels
    ///     to the plugin inside this command, which the broker does not forward to any subscriber,
    ///     and is stored only as a PBKDF2-SHA512 hash.
    ///   - topics: the site's topic tree (its prefix).
    /// - Returns: the JSON payload for `controlTopic`.
    /// - Throws: `ProvisioningError` with `.invalidArgument` for an empty, NUL-containing or over-long password.
    public static func registerDevice(_ id: DeviceID, password: String, topics: TopicTree) throws(ProvisioningError)
        -> [UInt8]
    {
        guard !password.isEmpty, password.utf8.count <= 256, !password.utf8.contains(0) else {
            throw ProvisioningError(.invalidArgument, "password must be 1–256 bytes without NUL")
        }
        let operation = DynSecOperation.registerDevice(id)
        let role = deviceRoleName(id)
        return encode([
            Command(
                command: "createRole", correlationData: operation.correlationPrefix + "role", rolename: role,
                textname: deviceTextName(id), acls: deviceACLs(id, topics: topics)),
            Command(
                command: "createClient", correlationData: operation.correlationPrefix + "client", rolename: nil,
                username: id.rawValue, password: password, clientid: id.rawValue, textname: deviceTextName(id),
                roles: [RoleRef(rolename: role)]),
        ])
    }

    /// Deletes the device's account and role. Deleting the account disconnects a connected client
    /// with that username at once; from then on its credentials are refused.
    public static func removeDevice(_ id: DeviceID) -> [UInt8] {
        let operation = DynSecOperation.removeDevice(id)
        return encode([
            Command(
                command: "deleteClient", correlationData: operation.correlationPrefix + "client", username: id.rawValue),
            Command(
                command: "deleteRole", correlationData: operation.correlationPrefix + "role",
                rolename: deviceRoleName(id)),
        ])
    }

    /// Parses a payload received on `responseTopic`.
    ///
    /// - Throws: `ProvisioningError` with `.malformedResponse` when it is not `{"responses":[...]}`.
    public static func parseResponses(_ payload: [UInt8]) throws(ProvisioningError) -> [DynSecResponse] {
        guard payload.count <= 1 << 20 else {
            throw ProvisioningError(.malformedResponse, "response larger than 1 MiB")
        }
        do {
            return try JSONDecoder().decode(ResponseList.self, from: Data(payload)).responses
        } catch {
            throw ProvisioningError(.malformedResponse, "not a dynamic-security response: \(error)")
        }
    }

    /// The outcome of `operation` if `responses` answer it, else nil (answers to someone else).
    public static func result(of operation: DynSecOperation, in responses: [DynSecResponse]) -> Result<
        Void, ProvisioningError
    >? {
        var byCorrelation: [String: DynSecResponse] = [:]
        for response in responses {
            if let correlation = response.correlationData, correlation.hasPrefix(operation.correlationPrefix) {
                byCorrelation[correlation] = response
            }
        }
        guard !byCorrelation.isEmpty else { return nil }
        for step in operation.steps {
            guard let response = byCorrelation[operation.correlationPrefix + step.suffix] else {
                return .failure(ProvisioningError(.malformedResponse, "no answer to \(step.command)"))
            }
            if let problem = problem(in: response) { return .failure(problem) }
        }
        return .success(())
    }

    /// What went wrong with one command, or nil when it succeeded or failed harmlessly.
    ///
    /// Registration tolerates an existing role (left over from an interrupted registration; its
    /// ACLs are the same) but not an existing account. Removal tolerates a missing account or role,
    /// so revoking twice is not an error.
    public static func problem(in response: DynSecResponse) -> ProvisioningError? {
        guard let error = response.error else { return nil }
        switch (response.command, error) {
        case ("createRole", "Role already exists"), ("deleteClient", "Client not found"),
            ("deleteRole", "Role not found"), ("getClient", "Client not found"):
            return nil
        case ("createClient", "Client already exists"):
            let name = response.correlationData.map(username(inCorrelation:)) ?? "?"
            return ProvisioningError(
                .alreadyRegistered, "the broker already has an account named '\(name)'; remove it first")
        default:
            return ProvisioningError(.refused, "\(response.command): \(error)")
        }
    }

    /// `fleet:register:<id>:client` → `<id>`.
    private static func username(inCorrelation correlation: String) -> String {
        let parts = correlation.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 4 ? String(parts[2]) : correlation
    }

    // MARK: - Wire types

    private struct RoleRef: Encodable {
        let rolename: String
    }

    private struct Command: Encodable {
        let command: String
        let correlationData: String
        var rolename: String? = nil
        var username: String? = nil
        var password: String? = nil
        var clientid: String? = nil
        var textname: String? = nil
        var acls: [DynSecACL]? = nil
        var roles: [RoleRef]? = nil
    }

    private struct CommandList: Encodable {
        let commands: [Command]
    }

    private struct ResponseList: Decodable {
        let responses: [DynSecResponse]
    }

    private static func encode(_ commands: [Command]) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, bools and arrays of them cannot fail.
        guard let data = try? encoder.encode(CommandList(commands: commands)) else { return [] }
        return Array(data)
    }
}
