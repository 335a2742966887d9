import Crypto
import FleetCtlCore
import FleetProtocol
import Foundation
import Testing

@Suite("fleetctl library")
struct FleetCtlCoreTests {
    @Test func serviceKeyPinIsRequiredAndComesFromAFlagTheEnvironmentOrAKeyFile() throws {
        #expect(throws: FleetCtlError.self) {
            try ServiceKeyPin.resolve(fingerprint: nil, publicKeyFile: nil, environment: [:])
        }
        #expect(throws: FleetCtlError.self) {
            try ServiceKeyPin.resolve(fingerprint: "not-a-fingerprint", publicKeyFile: nil, environment: [:])
        }
        #expect(
            try ServiceKeyPin.resolve(fingerprint: "3F2A-91c0-7d44-e810", publicKeyFile: nil, environment: [:])
                == .fingerprint("3f2a-91c0-7d44-e810"))
        #expect(
            try ServiceKeyPin.resolve(
                fingerprint: nil, publicKeyFile: nil,
                environment: [ServiceKeyPin.environmentVariable: "3f2a-91c0-7d44-e810"])
                == .fingerprint("3f2a-91c0-7d44-e810"))
        let key = Curve25519.KeyAgreement.PrivateKey().publicKey
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pin-\(UUID().uuidString).pub").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try KeyFile.savePublicKey(key, to: file)
        let pin = try ServiceKeyPin.resolve(fingerprint: nil, publicKeyFile: file, environment: [:])
        #expect(pin == .publicKey(Array(key.rawRepresentation)))
        #expect(pin.matches(key))
        #expect(!pin.matches(Curve25519.KeyAgreement.PrivateKey().publicKey))
        #expect(throws: FleetCtlError.self) {
            try ServiceKeyPin.resolve(fingerprint: "0000-0000-0000-0000", publicKeyFile: file, environment: [:])
        }
    }

    @Test func manifestSkipsHeaderCommentsAndEmptyGroups() throws {
        let entries = try Manifest.parse("uri,group\n# comment\nFB1:I:a;X:1;;,lab\n\nFB1:I:b;X:2;;,\n")
        #expect(
            entries == [EnrollEntry(uri: "FB1:I:a;X:1;;", group: "lab"), EnrollEntry(uri: "FB1:I:b;X:2;;", group: nil)])
    }

    @Test(arguments: ["", "uri,group\n", "a,b,c\n", ",lab\n"])
    func manifestRejectsUnusableInput(_ text: String) {
        #expect(throws: FleetCtlError.self) { try Manifest.parse(text) }
    }

    @Test func pushProgressCountsOnlyTheSeqThatWasPushed() {
        var progress = PushProgress(pushed: [
            PushedDevice(device: "a", seq: 2, profile: "p"), PushedDevice(device: "b", seq: 5, profile: "p"),
        ])
        func status(_ device: DeviceID, _ state: DeviceState, _ seq: UInt64, _ reason: ReasonCode? = nil)
            -> DeviceStatus
        {
            DeviceStatus(device: device, state: state, seq: seq, reason: reason, ts: 1)
        }
        let changed1 = progress.record(status("a", .applied, 1))
        #expect(!changed1)
        let changed2 = progress.record(status("a", .applied, 2))
        #expect(changed2)
        let changed3 = progress.record(status("x", .applied, 2))
        #expect(!changed3)
        #expect(progress.line == "applied 1/2 · applying 0 · failed 0 · waiting 1")
        let changedApplying = progress.record(status("b", .applying, 5))
        #expect(changedApplying)
        #expect(progress.line == "applied 1/2 · applying 1 · failed 0 · waiting 0")
        #expect(!progress.isFinished)
        let changed4 = progress.record(status("b", .failed, 5, .authFailed))
        #expect(changed4)
        #expect(progress.isFinished)
        #expect(!progress.succeeded)
        #expect(progress.failed.map(\.reason) == [.authFailed])
    }

    @Test func pushProgressKeepsAReportThatArrivesBeforeItsPage() {
        var progress = PushProgress()
        let early = DeviceStatus(device: "b", state: .applied, seq: 7, ts: 1)
        let recordedEarly = progress.record(early)
        #expect(!recordedEarly)
        progress.add([PushedDevice(device: "a", seq: 3, profile: "p"), PushedDevice(device: "b", seq: 7, profile: "p")])
        #expect(progress.appliedCount == 1 && !progress.isFinished)
        let failed = progress.record(DeviceStatus(device: "a", state: .failed, seq: 3, reason: .authFailed, ts: 1))
        #expect(failed)
        #expect(progress.isFinished && !progress.succeeded)
        #expect(progress.line == "applied 1/2 · applying 0 · failed 1 · waiting 0")
    }

    @Test func aLongManifestIsSplitIntoRequestsUnderTheLimitInOrder() throws {
        let rows = try (0..<1_000).map { n -> (line: Int, entry: EnrollEntry) in
            let id = try DeviceID("device-\(n)-" + String(repeating: "x", count: 50))
            let uri = try BootstrapURI(deviceID: id, publicKey: Curve25519.KeyAgreement.PrivateKey().publicKey)
            return (n + 2, EnrollEntry(uri: uri.string, group: String(repeating: "g", count: 64)))
        }
        try EnrollRunner.check(rows)
        let chunks = EnrollRunner.chunks(rows)
        #expect(chunks.count > 1)
        #expect(chunks.flatMap { $0.map(\.line) } == rows.map(\.line))
        for chunk in chunks {
            let request = try OperatorRequest(
                id: "0123456789abcdef", op: .enroll, replyTo: "bootstrap/v1/ops/reply/alice/0123456789abcdef",
                arguments: EnrollArgs(devices: chunk.map(\.entry)))
            #expect(try MessageCodec.encode(request).count <= OperatorRequest.maxBytes)
        }
    }

    @Test func everyUnusableManifestRowIsReportedAndNothingIsSent() {
        let rows: [(line: Int, entry: EnrollEntry)] = [
            (2, EnrollEntry(uri: "FB1:nonsense;;", group: nil)), (3, EnrollEntry(uri: "not a uri", group: "lab")),
        ]
        #expect {
            try EnrollRunner.check(rows)
        } throws: { error in
            let message = (error as? FleetCtlError)?.message ?? ""
            return message.contains("manifest line 2") && message.contains("manifest line 3")
        }
        #expect(EnrollRunner.entryIndex(in: "entry 3: device 'x' is enrolled with another key") == 2)
        #expect(EnrollRunner.entryIndex(in: "no devices to enroll") == nil)
    }

    @Test func statusTableShowsPendingLimitsAndTheCallersRole() {
        let text = TextTable.status(
            StatusResult(
                devices: [], pending: 2, pendingCap: 1000, pendingMaxAge: 86400, pendingRefused: 5, role: .installer))
        #expect(text.contains("2 pending device(s)"))
        #expect(text.contains("pending limits: 1000 devices, forgotten 86400 s after their last hello; 5 hello(s)"))
        #expect(text.hasSuffix("your role: installer"))
    }

    @Test func statusTableAlignsColumns() {
        let text = TextTable.render(header: ["A", "BB"], rows: [["long", "x"]])
        #expect(text == "A     BB\nlong  x")
    }
}
