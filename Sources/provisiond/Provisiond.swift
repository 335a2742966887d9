import ArgumentParser
import FleetProtocol
import Foundation
import Logging
import MQTT
import Provisioning

/// provisiond: flags, wiring, and a ServiceGroup with graceful shutdown on SIGTERM/SIGINT.
@main
struct Provisiond: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provisiond",
        abstract: "The FleetBootstrap provisioning service.",
        discussion: """
            Keeps the registry (SQLite, WAL), answers device hellos with sealed configs, tracks their \
            statuses and serves fleetctl's requests, all over MQTT. The broker password comes from \
            PROVISIOND_PASSWORD or --password-file, never from the command line.
            """)

    @Option(help: "Broker host.") var host: String = "127.0.0.1"
    @Option(help: "Broker port.") var port: Int = 1883
    @Option(help: "Broker username.") var username: String?
    @Option(help: "File whose first line is the broker password (else PROVISIOND_PASSWORD).") var passwordFile: String?
    @Option(
        help: """
            MQTT client id. Default: provisiond-<32 random hex digits>, new per start, so no other account \
            can guess it and take over the session (the broker would drop provisiond and publish its will).
            """)
    var clientID: String?
    @Option(help: "CA certificate file: connect with TLS.") var caFile: String?
    @Option(help: "Topic prefix.") var prefix: String = "bootstrap"
    @Option(help: "Registry database file (created with mode 0600).") var database: String
    @Option(help: "Service private key file (x25519-private, mode 0600).") var serviceKey: String
    @Option(
        help: """
            The site this provisiond serves (1-32 of a-z 0-9 _, starting with a letter): fixed in the registry \
            by its first start; operator requests for another site (fleetctl --site) are refused.
            """)
    var site: String?
    @Option(help: "Share the work with other instances through $share/<group>/ subscriptions.")
    var sharedGroup: String?
    @Option(help: "One of: \(Self.logLevels).") var logLevel: String = "info"
    @Option(
        help: """
            MQTT keepalive in seconds (5-65535): the broker declares a silent provisiond offline (its \
            will) after 1.5 times this.
            """)
    var keepalive: Int = 30
    @Option(
        help: """
            A site broker account name that is never a device id (repeatable). Always reserved: admin, \
            provisiond, hello, monitor, operator and --username; add every other operator and monitor.
            """)
    var reservedAccount: [String] = []
    @Flag(help: "Create/delete device broker accounts via the dynamic security plugin (staging site broker).")
    var manageBrokerAccounts = false
    @Option(
        help: ArgumentHelp(
            """
            An operator's role (repeatable): read-only (status, pending, profile list), installer (also \
            enroll, approve, revoke, pending reject/purge) or admin (also profiles, assign, push).
            """, valueName: "operator=role"))
    var operatorRole: [String] = []
    @Option(help: "The role of an operator without --operator-role.") var defaultOperatorRole: String = "read-only"
    @Option(help: "The most pending devices kept; hellos of further new ids are counted, not recorded.")
    var pendingCap: Int = PendingLimits.standard.cap
    @Option(help: "Seconds after its last hello a pending device is forgotten.")
    var pendingMaxAge: Int64 = PendingLimits.standard.maxAge

    static let logLevels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
    static let roleNames = OperatorRole.allCases.map(\.rawValue).joined(separator: ", ")

    func validate() throws {
        guard (5...65535).contains(keepalive) else { throw ValidationError("--keepalive must be 5-65535 seconds") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown --log-level '\(logLevel)'; use one of: \(Self.logLevels)")
        }
        _ = try roles()
        guard pendingCap >= 0 else { throw ValidationError("--pending-cap must be 0 or more") }
        guard pendingMaxAge >= 1 else { throw ValidationError("--pending-max-age must be at least 1 second") }
        if let site, let problem = Identifier.siteProblem(site) { throw ValidationError("--site \(problem)") }
    }

    /// The roles from `--operator-role` and `--default-operator-role`.
    func roles() throws -> OperatorRoles {
        guard let fallback = OperatorRole(rawValue: defaultOperatorRole) else {
            throw ValidationError(
                "unknown --default-operator-role '\(defaultOperatorRole)'; use one of: \(Self.roleNames)")
        }
        var roles: [String: OperatorRole] = [:]
        for entry in operatorRole {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, Identifier.problem(parts[0]) == nil, let role = OperatorRole(rawValue: parts[1])
            else {
                throw ValidationError(
                    "invalid --operator-role '\(entry)': use NAME=ROLE, NAME an operator account, ROLE one of: "
                        + Self.roleNames)
            }
            guard roles[parts[0]] == nil || roles[parts[0]] == role else {
                throw ValidationError("--operator-role gives '\(parts[0])' two roles")
            }
            roles[parts[0]] = role
        }
        return OperatorRoles(roles, defaultRole: fallback)
    }

    func run() async throws {
        // Every line escaped: ids, reply topics and error texts from outside reach the log.
        var logger = Logger(label: "provisiond") { EscapingLogHandler(StreamLogHandler.standardError(label: $0)) }
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info  // checked by validate()
        do {
            let identity = try ServiceIdentity(privateKeyFile: serviceKey)
            let registry = try Registry(path: database, cipher: identity.atRestCipher)
            try registry.bind(site: site)
            let topics = try TopicTree(prefix: prefix)
            let roles = try roles()
            // Operators named in --operator-role are site accounts too.
            let reserved = Set(["admin", "provisiond", "hello", "monitor", "operator"] + reservedAccount)
                .union(username.map { [$0] } ?? []).union(roles.roles.keys)
            let engine = ProvisioningEngine(
                store: registry, identity: identity, topics: topics, reservedIDs: reserved, roles: roles,
                pendingLimits: PendingLimits(cap: pendingCap, maxAge: pendingMaxAge), site: site)
            var password = ProcessInfo.processInfo.environment["PROVISIOND_PASSWORD"]
            if let passwordFile {
                guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                    throw ValidationError("cannot read --password-file \(passwordFile)")
                }
                password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            }
            let base = MQTTConfiguration(
                host: host, port: port, clientID: clientID ?? ProvisioningService.randomClientID(), username: username,
                password: password, keepAlive: keepalive,
                // MQTT v5: a publish the broker refuses (too large, denied) fails with its reason code
                // instead of being resent after every reconnect.
                protocolVersion: .v5, tls: caFile.map { MQTTTLSOptions(caFile: $0) })
            let mqtt = try ProvisioningService.mqttConfiguration(
                base, prefix: prefix, identity: identity, version: "0.1.0")
            let service = try ProvisioningService(
                configuration: .init(
                    mqtt: mqtt, prefix: prefix, sharedGroup: sharedGroup, manageBrokerAccounts: manageBrokerAccounts),
                engine: engine,
                identity: identity, logger: logger)
            try await service.runUntilSignalled()
        } catch let error as ValidationError {
            throw error
        } catch {
            FileHandle.standardError.write(Data("provisiond: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
