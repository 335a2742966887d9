import FleetProtocol
import Foundation

/// fleetctl's sites file: how to reach each site's broker, so that `fleetctl --site north status`
/// needs no other connection flag.
///
/// ```
/// # ~/.config/fleetctl/sites.conf
/// [north]
/// host = mqtt.north.example.com
/// port = 8883
/// ca-file = /etc/fleetbootstrap/north-ca.crt
/// username = alice
/// password-file = /home/alice/.config/fleetctl/north.password
/// prefix = bootstrap
/// ```
///
/// One `[site]` section per site (a site name: 1–32 of `a-z 0-9 _`, starting with a letter), then
/// `key = value` lines; `#` starts a comment line. Every key is optional; a flag given on the command
/// line wins over the file. No password in the file: `password-file` names a file holding it.
public struct SitesFile: Sendable, Hashable {
    /// One site's connection settings.
    public struct Site: Sendable, Hashable {
        public var host: String?
        public var port: Int?
        public var caFile: String?
        public var username: String?
        public var passwordFile: String?
        public var prefix: String?

        public init(
            host: String? = nil, port: Int? = nil, caFile: String? = nil, username: String? = nil,
            passwordFile: String? = nil, prefix: String? = nil
        ) {
            self.host = host
            self.port = port
            self.caFile = caFile
            self.username = username
            self.passwordFile = passwordFile
            self.prefix = prefix
        }
    }

    /// The keys a section may hold.
    public static let keys = ["host", "port", "ca-file", "username", "password-file", "prefix"]

    /// Sites by name.
    public var sites: [String: Site]
    /// Where the file was read from, for messages.
    public var path: String

    /// The default location: `$XDG_CONFIG_HOME/fleetctl/sites.conf`, else `~/.config/fleetctl/sites.conf`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let config = environment["XDG_CONFIG_HOME"], !config.isEmpty { return "\(config)/fleetctl/sites.conf" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return "\(home)/.config/fleetctl/sites.conf"
    }

    /// Reads and parses the file at `path`.
    /// - Throws: ``FleetCtlError`` `invalid_input` when it cannot be read or has an error (with its line).
    public static func load(_ path: String) throws(FleetCtlError) -> SitesFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FleetCtlError(
                .invalidInput, "cannot read the sites file \(path) (--sites-file or FLEETCTL_SITES_FILE names another)")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// Parses the text of a sites file.
    /// - Throws: ``FleetCtlError`` `invalid_input` naming the file and line of the first error.
    public static func parse(_ text: String, path: String) throws(FleetCtlError) -> SitesFile {
        var sites: [String: Site] = [:]
        var current: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\r")))
            let number = index + 1
            func failure(_ message: String) -> FleetCtlError {
                FleetCtlError(.invalidInput, "\(path) line \(number): \(message)")
            }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw failure("a section is [NAME]") }
                let name = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if let problem = Identifier.siteProblem(name) { throw failure("site name \(problem)") }
                guard sites[name] == nil else { throw failure("site '\(name)' appears twice") }
                sites[name] = Site()
                current = name
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { throw failure("expected KEY = VALUE or [SITE]") }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard let name = current else { throw failure("'\(key)' before the first [SITE] section") }
            guard !value.isEmpty else { throw failure("'\(key)' has no value") }
            var site = sites[name] ?? Site()
            switch key {
            case "host": site.host = value
            case "port":
                guard let port = Int(value), (1...65535).contains(port) else { throw failure("port must be 1-65535") }
                site.port = port
            case "ca-file": site.caFile = value
            case "username": site.username = value
            case "password-file": site.passwordFile = value
            case "prefix": site.prefix = value
            case "password":
                throw failure(
                    "no passwords in the sites file: put it in a file of its own (mode 0600) and name it with password-file"
                )
            default:
                throw failure("unknown key '\(key)'; use \(keys.joined(separator: ", "))")
            }
            sites[name] = site
        }
        return SitesFile(sites: sites, path: path)
    }

    public init(sites: [String: Site], path: String) {
        self.sites = sites
        self.path = path
    }

    /// The settings of `name`.
    /// - Throws: ``FleetCtlError`` `invalid_input` listing the sites the file has.
    public func site(_ name: String) throws(FleetCtlError) -> Site {
        guard let site = sites[name] else {
            let known = sites.keys.sorted().joined(separator: ", ")
            throw FleetCtlError(
                .invalidInput,
                "no site '\(name)' in \(path)" + (known.isEmpty ? " (it has none)" : "; it has: \(known)"))
        }
        return site
    }
}
