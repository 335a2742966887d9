import ArgumentParser
import FleetCtlCore
import FleetProtocol
import Foundation

/// The operator CLI. Argument parsing and printing only; the work is in FleetCtlCore.
@main
struct FleetCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetctl",
        abstract: "Operate a FleetBootstrap staging site through its MQTT broker.",
        discussion: """
            Every command except 'keys create' talks to provisiond over MQTT only, so an operator needs \
            broker credentials and nothing else. The password comes from FLEETCTL_PASSWORD or \
            --password-file, never from the command line. From another machine, use the broker's TLS \
            listener with --ca-file (the site CA). provisiond decides what each operator may do \
            (its role, shown by 'fleetctl status').
            """,
        subcommands: [
            Keys.self, Enroll.self, Pending.self, Approve.self, Profile.self, Assign.self, Push.self, Status.self,
            Revoke.self, Watch.self,
        ]
    )
}

/// Broker connection flags shared by every networked command.
///
/// With `--site`, what the sites file says about that site fills in every flag not given; then the
/// environment (FLEETCTL_USERNAME, FLEETCTL_PASSWORD, FLEETCTL_CA_FILE), then the defaults.
struct ConnectionFlags: ParsableArguments {
    @Option(help: "Broker host (default 127.0.0.1).") var host: String?
    @Option(help: "Broker port (default 1883).") var port: Int?
    @Option(help: "Broker username; also the operator name in reply topics (else FLEETCTL_USERNAME, else operator).")
    var username: String?
    @Option(help: "File whose first line is the broker password (else FLEETCTL_PASSWORD).")
    var passwordFile: String?
    @Option(help: "Topic prefix (default bootstrap).") var prefix: String?
    @Option(
        help: """
            CA certificate file (the site's certs/ca.crt): connect with TLS, checking the broker's certificate \
            and host name. Needed for any broker not on this machine (else FLEETCTL_CA_FILE).
            """)
    var caFile: String?
    @Option(
        help: """
            The site to operate (else FLEETCTL_SITE): its broker comes from the sites file, and provisiond \
            refuses the request if it serves another site.
            """)
    var site: String?
    @Option(
        help: """
            The sites file (else FLEETCTL_SITES_FILE, else ~/.config/fleetctl/sites.conf): one [SITE] section \
            per site with host, port, ca-file, username, password-file and prefix.
            """)
    var sitesFile: String?

    func options(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ConnectionOptions {
        var entry = SitesFile.Site()
        let site = site ?? environment["FLEETCTL_SITE"].flatMap { $0.isEmpty ? nil : $0 }
        if let site {
            if let problem = Identifier.siteProblem(site) {
                throw FleetCtlError(.invalidInput, "--site \(problem)")
            }
            let path =
                sitesFile ?? environment["FLEETCTL_SITES_FILE"] ?? SitesFile.defaultPath(environment: environment)
            entry = try SitesFile.load(path).site(site)
        }
        var password = environment["FLEETCTL_PASSWORD"]
        if let passwordFile = passwordFile ?? entry.passwordFile {
            password = try SecretInput.fromFile(passwordFile)
        }
        let caFile = caFile ?? entry.caFile ?? environment["FLEETCTL_CA_FILE"]
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw FleetCtlError(.invalidInput, "cannot read --ca-file \(caFile)")
        }
        return ConnectionOptions(
            host: host ?? entry.host ?? "127.0.0.1", port: port ?? entry.port ?? 1883,
            username: username ?? entry.username ?? environment["FLEETCTL_USERNAME"] ?? "operator",
            password: password, prefix: prefix ?? entry.prefix ?? "bootstrap", caFile: caFile, site: site)
    }
}

/// Runs `body` with a connected session; every failure becomes one line on stderr and exit status 1.
func withSession(_ flags: ConnectionFlags, _ body: (OperatorSession) async throws -> Void) async throws {
    do {
        let session = try await OperatorSession.connect(try flags.options())
        do {
            try await body(session)
        } catch {
            await session.close()
            throw error
        }
        await session.close()
    } catch let error as ExitCode {
        throw error
    } catch {
        throw fail(error)
    }
}

/// Prints `fleetctl: <message>` on stderr and returns the exit code to throw.
func fail(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("fleetctl: \(error)\n".utf8))
    return ExitCode.failure
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

// Typed command-line values: ArgumentParser refuses an invalid one with a usage error.
extension DeviceID: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(argument) }
}

extension WiFiEncryption: ExpressibleByArgument {}
extension EAPType: ExpressibleByArgument {}
