import ArgumentParser
import FleetCtlCore
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
        @Option(help: "none, owe, psk, psk2, psk-mixed, sae, sae-mixed, wpa2, wpa3.") var encryption: String
        @Option(help: "File whose first line is the key.") var keyFile: String?
        @Flag(help: "Read the key from the first line of stdin.") var keyStdin = false
        @Flag(help: "Hidden network.") var hidden = false
        @Option(help: "Pin the access point (aa:bb:cc:dd:ee:ff).") var bssid: String?
        @Option(help: "Enterprise: peap, ttls or tls.") var eapType: String?
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
            // The pin first: without one nothing is read, sealed or sent.
            let pin: ServiceKeyPin
            do {
                pin = try ServiceKeyPin.resolve(
                    fingerprint: serviceFingerprint, publicKeyFile: servicePubkey,
                    environment: ProcessInfo.processInfo.environment)
            } catch {
                fail(error)
            }
            let needsKey = ["psk", "psk2", "psk-mixed", "sae", "sae-mixed"].contains(encryption)
            var key: String?
            do {
                if let keyFile {
                    key = try SecretInput.fromFile(keyFile)
                } else if keyStdin {
                    key = try SecretInput.fromStdin()
                } else if needsKey {
                    key = try SecretInput.prompt("Wi-Fi key for \(ssid): ")
                }
            } catch {
                fail(error)
            }
            let draft = ProfileDraft(
                ssid: ssid, encryption: encryption, key: key, hidden: hidden ? true : nil, bssid: bssid,
                eapType: eapType,
                identity: identity,
                password: eapPasswordFile.map { path in
                    do { return try SecretInput.fromFile(path) } catch { fail(error) }
                },
                caCert: caCertFile.map { path in
                    guard let data = FileManager.default.contents(atPath: path) else {
                        fail(FleetCtlError("cannot read \(path)"))
                    }
                    return String(decoding: data, as: UTF8.self)
                })
            try await withSession(connection) { session in
                let result = try await ProfileUploader(session: session).add(
                    name: name, draft: draft, pin: pin)
                print("profile \(result.name) saved (revision \(result.revision))")
            }
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
                            [$0.name, $0.ssid, $0.encryption, $0.hidden ? "yes" : "no", String($0.revision)]
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
