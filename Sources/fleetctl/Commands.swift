import ArgumentParser
import FleetCtlCore
import FleetProtocol
import Foundation

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Service key pair management (local, no broker).", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the service key pair: DIR/service.key (0600) and DIR/service.pub.")
        @Option(help: "Directory for the key files.") var out: String

        func run() async throws {
            do {
                let created = try ServiceKeys.create(in: out)
                print("service key:  \(created.privateKeyPath) (mode 0600)")
                print("public key:   \(created.publicKeyPath)")
                print("fingerprint:  \(created.fingerprint)")
            } catch {
                throw fail(error)
            }
        }
    }
}

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll devices from bootstrap URIs (one, or a CSV manifest 'uri,group').")
    @OptionGroup var connection: ConnectionFlags
    @Argument(help: "Bootstrap URI (FB1:...;;) from the device label.") var uri: String?
    @Option(help: "Group for the device.") var group: String?
    @Option(help: "CSV manifest with the columns uri,group.") var manifest: String?

    func validate() throws {
        guard (uri == nil) != (manifest == nil) else {
            throw ValidationError("give either a bootstrap URI or --manifest")
        }
        if manifest != nil, group != nil {
            throw ValidationError("--group applies to a single URI; put groups in the manifest")
        }
    }

    func run() async throws {
        guard let manifest else {
            try await withSession(connection) { session in
                let result = try await session.request(
                    .enroll, EnrollArgs(devices: [EnrollEntry(uri: uri ?? "", group: group)]), as: EnrollResult.self)
                for device in result.enrolled { printEnrolled(device) }
            }
            return
        }
        guard let data = FileManager.default.contents(atPath: manifest) else {
            throw fail(FleetCtlError(.invalidInput, "cannot read \(manifest)"))
        }
        let rows: [(line: Int, entry: EnrollEntry)]
        do {
            rows = try Manifest.parseLines(String(decoding: data, as: UTF8.self))
            try EnrollRunner.check(rows)
        } catch {
            throw fail(error)
        }
        var refused = 0
        try await withSession(connection) { session in
            let outcome = try await EnrollRunner(session: session).run(
                rows, progress: StandardErrorProgress(interactive: isatty(STDERR_FILENO) == 1))
            for device in outcome.enrolled { printEnrolled(device) }
            for (line, reason) in outcome.refused {
                FileHandle.standardError.write(Data("fleetctl: manifest line \(line): \(reason)\n".utf8))
            }
            refused = outcome.refused.count
            print("enroll: \(outcome.enrolled.count) of \(rows.count) devices enrolled, \(refused) refused")
        }
        if refused > 0 { throw ExitCode.failure }
    }

    private func printEnrolled(_ device: DeviceSummary) {
        print("enrolled \(device.device)  fingerprint \(device.fingerprint)  group \(device.group ?? "-")")
    }
}

struct Pending: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Devices that said hello but are not enrolled: list, reject, purge.",
        subcommands: [List.self, Reject.self, Purge.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the pending devices (the default).")
        @OptionGroup var connection: ConnectionFlags
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await withSession(connection) { session in
                let result = try await session.pending(progress: pageProgress())
                if json { return try printJSON(result) }
                print(
                    TextTable.render(
                        header: ["DEVICE", "FINGERPRINT", "HELLOS", "LAST SEEN", "KEYS"],
                        rows: result.pending.map {
                            let keys = $0.keysSeen ?? [$0.fingerprint]
                            return [
                                $0.device.rawValue, $0.fingerprint, String($0.hellos),
                                Date(timeIntervalSince1970: TimeInterval($0.lastSeen)).description,
                                keys.count > 1 ? "CONFLICT: \(keys.joined(separator: " "))" : "1",
                            ]
                        }))
            }
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a pending device (it comes back if it says hello again).")
        @OptionGroup var connection: ConnectionFlags
        @Argument(help: "Device id.") var device: DeviceID

        func run() async throws {
            try await withSession(connection) { session in
                let result = try await session.request(
                    .pendingReject, DeviceArgs(device: device), as: RejectResult.self)
                print("rejected \(result.device)  fingerprint \(result.fingerprint)")
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every pending device, or the quiet ones.")
        @OptionGroup var connection: ConnectionFlags
        @Option(help: "Only those without a hello for this many seconds.") var olderThan: Int64?

        func validate() throws {
            if let olderThan, olderThan < 0 { throw ValidationError("--older-than must be 0 or more seconds") }
        }

        func run() async throws {
            try await withSession(connection) { session in
                let result = try await session.request(
                    .pendingPurge, PurgeArgs(olderThan: olderThan), as: PurgeResult.self)
                print("purged \(result.purged) pending device(s)")
            }
        }
    }
}

struct Approve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll a pending device with the key it announced, after comparing its fingerprint with its label.")
    @OptionGroup var connection: ConnectionFlags
    @Argument(help: "Device id.") var device: DeviceID
    @Option(help: "Group for the device.") var group: String?
    @Option(
        help: ArgumentHelp(
            "Required: the fingerprint on the device's label (xxxx-xxxx-xxxx-xxxx); compare it with `fleetctl pending`.",
            valueName: "xxxx-xxxx-xxxx-xxxx"))
    var fingerprint: String?

    func validate() throws {
        guard let fingerprint else {
            throw ValidationError(
                "approve needs --fingerprint xxxx-xxxx-xxxx-xxxx: read it on the device's label and compare it with `fleetctl pending`"
            )
        }
        guard ApproveArgs.normalizedFingerprint(fingerprint) != nil else {
            throw ValidationError("--fingerprint must look like 3f2a-91c0-7d44-e810 (four groups of four hex digits)")
        }
    }

    func run() async throws {
        let expected = (fingerprint ?? "").lowercased()
        try await withSession(connection) { session in
            let result = try await session.request(
                .approve, ApproveArgs(device: device, group: group, fingerprint: expected), as: DeviceSummary.self)
            guard result.device == device, result.fingerprint == expected else {
                throw FleetCtlError(
                    .enrollmentMismatch,
                    "the service enrolled \(result.device) with fingerprint \(result.fingerprint), not \(expected): "
                        + "revoke it now (fleetctl revoke \(result.device)) and re-verify the device")
            }
            print("approved \(result.device)  fingerprint \(result.fingerprint)  group \(result.group ?? "-")")
        }
    }
}

struct Assign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Assign a profile to devices or to a group.")
    @OptionGroup var connection: ConnectionFlags
    @Argument(help: "Profile name.") var profile: String
    @Option(name: .customLong("device"), help: "Device id (repeatable).") var devices: [DeviceID] = []
    @Option(help: "Group name.") var group: String?

    func validate() throws {
        guard devices.isEmpty != (group == nil) else {
            throw ValidationError("give either --device (one or more) or --group")
        }
    }

    func run() async throws {
        try await withSession(connection) { session in
            let result = try await session.request(
                .assign, AssignArgs(profile: profile, devices: devices.isEmpty ? nil : devices, group: group),
                as: AssignResult.self)
            let target =
                result.group.map { "group \($0) (\(result.count) device(s) now)" }
                ?? (result.devices ?? []).map(\.rawValue).joined(separator: ", ")
            print("assigned \(result.profile) to \(target)")
        }
    }
}

struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seal and publish the assigned profile to devices, with live progress.",
        discussion: "Exits 0 when every device applied it, 1 when any failed or did not answer in time.")
    @OptionGroup var connection: ConnectionFlags
    @Option(name: .customLong("device"), help: "Device id (repeatable).") var devices: [DeviceID] = []
    @Option(help: "Group name.") var group: String?
    @Option(help: "Seconds to wait for the devices.") var timeout: Int = 120

    func validate() throws {
        guard devices.isEmpty != (group == nil) else {
            throw ValidationError("give either --device (one or more) or --group")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        var succeeded = false
        try await withSession(connection) { session in
            let progress = try await PushRunner(session: session).run(
                PushArgs(devices: devices.isEmpty ? nil : devices, group: group), timeout: .seconds(timeout),
                output: ProgressPrinter(interactive: isatty(STDOUT_FILENO) == 1))
            succeeded = progress.succeeded
            for (device, reason) in progress.failed { print("failed  \(device): \(reason?.rawValue ?? "unknown")") }
            for device in progress.waiting { print("timeout \(device): no result within \(timeout) s") }
        }
        if !succeeded { throw ExitCode.failure }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every enrolled device.")
    @OptionGroup var connection: ConnectionFlags
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await withSession(connection) { session in
            let result = try await session.status(progress: pageProgress())
            if json { return try printJSON(result) }
            print(TextTable.status(result))
        }
    }
}

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke a device: its config is replaced by a sealed reset; it returns to the provisioning network.")
    @OptionGroup var connection: ConnectionFlags
    @Argument(help: "Device id.") var device: DeviceID

    func run() async throws {
        try await withSession(connection) { session in
            let result = try await session.request(.revoke, DeviceArgs(device: device), as: RevokeResult.self)
            print("revoked \(result.device) (reset envelope seq \(result.seq))")
        }
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print audit events and device statuses as they happen.")
    @OptionGroup var connection: ConnectionFlags

    func run() async throws {
        try await withSession(connection) { session in
            for await line in try await session.watch() {
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
        }
    }
}

/// The progress of gathering pages: a line on standard error when it is a terminal, nothing
/// otherwise (a script reading `--json` gets only the result).
func pageProgress() -> any OperationProgress {
    isatty(STDERR_FILENO) == 1 ? StandardErrorProgress(interactive: true) : NoProgress()
}
