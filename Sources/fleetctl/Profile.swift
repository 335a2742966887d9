import ArgumentParser
import FleetCtlCore
import FleetProtocol
import Foundation

struct Profile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wi-Fi profiles kept by provisiond.", subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add or replace a profile. The key is read from a file, stdin or a prompt, never argv,",
            discussion: "and is sealed to the service public key before it leaves this machine.")
        @OptionGroup var connection: ConnectionFlags
        @Argument(help: "Profile name.") var name: String
        @Option(help: "Network name.") var ssid: String
        @Option(help: "none, owe, psk, psk2, psk-mixed, sae, sae-mixed, wpa2, wpa3.") var encryption: WiFiEncryption
        @Option(help: "File whose first line is the key.") var keyFile: String?
        @Flag(help: "Read the key from the first line of stdin.") var keyStdin = false
        @Flag(help: "Hidden network.") var hidden = false
        @Option(help: "Pin the access point (aa:bb:cc:dd:ee:ff).") var bssid: String?
        @Option(help: "Enterprise: peap, ttls or tls.") var eapType: EAPType?
        @Option(help: "Enterprise identity.") var identity: String?
        @Option(help: "Enterprise: file whose first line is the EAP password.") var eapPasswordFile: String?
        @Option(help: "Enterprise: CA certificate PEM file.") var caCertFile: String?
        @Option(
            help: ArgumentHelp(
                "Pin: the service key's fingerprint (from `fleetctl keys create`); or set FLEETCTL_SERVICE_FINGERPRINT.",
                valueName: "xxxx-xxxx-xxxx-xxxx"))
        var serviceFingerprint: String?
        @Option(help: "Pin: the service public key file (service.pub); the full key must match.")
        var servicePubkey: String?

        func validate() throws {
            if keyFile != nil && keyStdin { throw ValidationError("give --key-file or --key-stdin, not both") }
        }

        func run() async throws {
            let pin: ServiceKeyPin
            let profile: WiFiProfile
            do {
                // The pin first: without one nothing is read, sealed or sent.
                pin = try ServiceKeyPin.resolve(
                    fingerprint: serviceFingerprint, publicKeyFile: servicePubkey,
                    environment: ProcessInfo.processInfo.environment)
                profile = try readProfile()
            } catch {
                throw fail(error)
            }
            try await withSession(connection) { session in
                let result = try await ProfileUploader(session: session).add(name: name, profile: profile, pin: pin)
                print("profile \(result.name) saved (revision \(result.revision))")
            }
        }

        /// The profile from the flags, its secrets read from files, stdin or the terminal.
        private func readProfile() throws -> WiFiProfile {
            var key: String?
            if let keyFile {
                key = try SecretInput.fromFile(keyFile)
            } else if keyStdin {
                key = try SecretInput.fromStdin()
            } else if encryption.usesKey {
                key = try SecretInput.prompt("Wi-Fi key for \(ssid): ")
            }
            var caCert: String?
            if let caCertFile {
                guard let data = FileManager.default.contents(atPath: caCertFile) else {
                    throw FleetCtlError(.invalidInput, "cannot read \(caCertFile)")
                }
                caCert = String(decoding: data, as: UTF8.self)
            }
            return WiFiProfile(
                ssid: ssid, encryption: encryption, key: key, hidden: hidden ? true : nil, bssid: bssid,
                eapType: eapType, identity: identity, password: try eapPasswordFile.map(SecretInput.fromFile),
                caCert: caCert)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List profiles (never their keys).")
        @OptionGroup var connection: ConnectionFlags
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await withSession(connection) { session in
                let result = try await session.request(.profileList, NoArguments(), as: ProfileListResult.self)
                if json { return try printJSON(result) }
                print(
                    TextTable.render(
                        header: ["NAME", "SSID", "ENCRYPTION", "HIDDEN", "REVISION"],
                        rows: result.profiles.map {
                            [$0.name, $0.ssid, $0.encryption.rawValue, $0.hidden ? "yes" : "no", String($0.revision)]
                        }))
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a profile nothing is assigned to.")
        @OptionGroup var connection: ConnectionFlags
        @Argument(help: "Profile name.") var name: String

        func run() async throws {
            try await withSession(connection) { session in
                _ = try await session.request(.profileRemove, NameArgs(name: name), as: NameArgs.self)
                print("profile \(name) removed")
            }
        }
    }
}
