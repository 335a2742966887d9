import BrokerHarness
import Crypto
import FleetProtocol
import Foundation
import MQTT
import Testing

/// The real omega-agent binary against a real mosquitto broker, with the uci/wifi/ubus stand-ins
/// operating on real uci files. Envelopes are sealed by FleetProtocol (swift-crypto), opened by the
/// agent (OpenSSL): the two implementations must agree byte for byte.
@Suite("omega-agent (native)", .serialized)
struct AgentBehaviourTests {
    @Test func appliesSealedProfileAndReportsApplied() async throws {
        try await withAgentSite(binary: try .native()) { site in
            #expect(site.hellos().count >= 1)
            try await site.publishConfig(try site.seal(AgentSite.goodProfile, seq: 5))
            let applying = try await site.waitForStatus("applying 5") { $0.state == .applying }
            #expect(applying.seq == 5)
            let applied = try await site.waitForStatus("applied 5") { $0.state == .applied || $0.state == .failed }
            #expect(applied.state == .applied && applied.seq == 5 && applied.reason == nil)
            let wireless = try site.wireless()
            #expect(wireless.contains("option ssid '\(AgentSite.premisesSSID)'"))
            #expect(!site.agentOutput.contains(AgentSite.premisesKey), "the agent logged the Wi-Fi key")
        }
    }

    @Test(arguments: BadInput.allCases)
    func rejectsBadInputChangesNothingAndKeepsRunning(_ bad: BadInput) async throws {
        try await withAgentSite(binary: try .native()) { site in
            let first = try site.seal(AgentSite.goodProfile, seq: 5)
            if bad.needsEarlierApply {
                try await site.publishConfig(first)
                try await site.waitForStatus("applied 5") { $0.state == .applied && $0.seq == 5 }
            }
            let before = try site.uciSnapshot()
            let seen = site.statuses().count

            try await site.publishConfig(try bad.payload(site: site, firstEnvelope: first))
            let failed = try await site.waitForStatus(after: seen, "failed for \(bad)") {
                $0.state == .failed || $0.state == .applied || $0.state == .applying
            }
            #expect(failed.state == .failed)
            #expect(failed.reason == bad.reason)
            #expect(failed.seq == bad.reportedSeq)
            #expect(try site.uciSnapshot() == before, "uci files changed")
            #expect(site.agent?.isRunning == true)

            // The agent keeps working: a following good envelope applies.
            let again = site.statuses().count
            try await site.publishConfig(try site.seal(AgentSite.goodProfile, seq: 10))
            let applied = try await site.waitForStatus(after: again, "applied 10") {
                ($0.state == .applied || $0.state == .failed) && $0.seq == 10
            }
            #expect(applied.state == .applied)
        }
    }

    @Test func resetEnvelopeReturnsToProvisioningNetwork() async throws {
        try await withAgentSite(binary: try .native()) { site in
            try await site.publishConfig(try site.seal(AgentSite.goodProfile, seq: 5))
            try await site.waitForStatus("applied 5") { $0.state == .applied }
            let envelope = try EnvelopeCrypto.seal(
                reset: ResetCommand(reason: "revoked"), seq: 6, device: site.deviceID,
                devicePublicKey: site.deviceKey.publicKey, servicePrivateKey: site.serviceKey)
            try await site.publishConfig(try MessageCodec.encodeString(envelope))
            let status = try await site.waitForStatus("reset 6") { $0.seq == 6 }
            #expect(status.state == .reset)
            #expect(try site.wireless().contains("option ssid '\(AgentSite.provisioningSSID)'"))
        }
    }

    @Test func emptyRetainedConfigIsIgnored() async throws {
        try await withAgentSite(binary: try .native()) { site in
            let seen = site.statuses().count
            try await site.monitorPublish(site.configTopic, [])
            // A good envelope after it is the next thing reported: nothing was said about the empty one.
            try await site.publishConfig(try site.seal(AgentSite.goodProfile, seq: 1))
            let next = try await site.waitForStatus(after: seen, "status after the empty message") { _ in true }
            #expect(next.state == .applying && next.seq == 1)
        }
    }

    @Test func restartKeepsSeqIgnoresRetainedAppliedConfigAndRejectsOlder() async throws {
        let site = try await AgentSite(binary: try .native())
        do {
            try site.startAgent()
            try await site.waitForStatus("online") { $0.state == .online }
            try await site.publishConfig(try site.seal(AgentSite.goodProfile, seq: 7))
            try await site.waitForStatus("applied 7") { $0.state == .applied }
            #expect(await site.stopAgent() == 0)
            try await site.waitForStatus("offline") { $0.state == .offline }
            let seen = site.statuses().count
            try site.startAgent()
            try await site.waitForStatus(after: seen, "online again") { $0.state == .online }
            // The retained seq-7 config is delivered again on subscribe: not news, not a replay.
            try await Task.sleep(for: .milliseconds(500))
            #expect(!site.statuses().dropFirst(seen).contains { $0.state == .failed })
            let hello = try #require(site.hellos().last)
            #expect(hello.string.contains("\"boot\":2"))
            try await site.publishConfig(try site.seal(AgentSite.goodProfile, seq: 6))
            let replay = try await site.waitForStatus(after: seen, "replay 6") { $0.state == .failed }
            #expect(replay.reason == .replay && replay.seq == 6)
        } catch {
            await site.shutdown()
            throw error
        }
        await site.shutdown()
    }

    @Test func publishesOfflineBeforeCleanShutdown() async throws {
        try await withAgentSite(binary: try .native()) { site in
            let code = await site.stopAgent()
            #expect(code == 0)
            let offline = try await site.waitForStatus("offline") { $0.state == .offline }
            #expect(offline.seq == 0)
        }
    }

    @Test func identityCommandCreatesKeyAndPrintsBootstrapURI() async throws {
        let agent = try AgentBinary.native()
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("fleet-id-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keyPath = dir.appendingPathComponent("device.key").path
        let config =
            "config agent 'agent'\n\toption device_id 'omega-c0ffee'\n\toption key_file '\(keyPath)'\n"
            + "\toption model 'omega2'\n\toption mac '40a36bc0ffee'\n"
        try Data(config.utf8).write(to: dir.appendingPathComponent("omega-agent"))
        let run = try ManagedProcess.start(
            agent.executable, arguments: ["identity", "--config", dir.appendingPathComponent("omega-agent").path])
        #expect(try await run.waitForExit(timeout: .seconds(20)) == 0)
        let lines = run.output().split(separator: "\n").map(String.init)
        let uri = try BootstrapURI(parsing: try #require(lines.first))
        #expect(uri.deviceID.rawValue == "omega-c0ffee" && uri.model == "omega2" && uri.mac == "40a36bc0ffee")
        #expect(lines.contains("fingerprint \(Fingerprint.of(uri.publicKey))"))
        let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let key = try KeyFile.loadPrivateKey(from: keyPath)
        #expect(key.publicKey.rawRepresentation == uri.publicKey.rawRepresentation)
        // A second run prints the same identity.
        let again = try ManagedProcess.start(
            agent.executable, arguments: ["identity", "--config", dir.appendingPathComponent("omega-agent").path])
        #expect(try await again.waitForExit(timeout: .seconds(20)) == 0)
        #expect(again.output().hasPrefix(lines[0]))
    }

    @Test func defaultDeviceIDComesFromTheKeyFingerprintAndIsStable() async throws {
        let agent = try AgentBinary.native()
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("fleet-id-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keyPath = dir.appendingPathComponent("device.key").path
        let configPath = dir.appendingPathComponent("omega-agent").path
        // No device_id: never the hostname (OpenWrt, Omega-XXXX collide across a fleet).
        let config = "config agent 'agent'\n\toption key_file '\(keyPath)'\n"
        try Data(config.utf8).write(to: URL(fileURLWithPath: configPath))
        var outputs: [String] = []
        for _ in 0..<2 {
            let run = try ManagedProcess.start(agent.executable, arguments: ["identity", "--config", configPath])
            #expect(try await run.waitForExit(timeout: .seconds(20)) == 0)
            outputs.append(run.output())
        }
        let lines = outputs[0].split(separator: "\n").map(String.init)
        let uri = try BootstrapURI(parsing: try #require(lines.first))
        let fingerprint = Fingerprint.of(uri.publicKey)
        let expected = "omega-" + fingerprint.replacingOccurrences(of: "-", with: "")
        #expect(uri.deviceID.rawValue == expected)
        #expect(lines.contains("device \(expected)"))
        #expect(outputs[1].hasPrefix(lines[0] + "\n"), "the id changed between runs")
    }

    @Test func derivedCredentialsRefusedThenHelloAccountThenEnrolled() async throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("fleet-pw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let passwd = dir.appendingPathComponent("passwd")
        try addUser(passwd, "hello", "hello-secret", create: true)
        try addUser(passwd, "monitor", "monitor-secret", create: false)
        let broker = "allow_anonymous false\npassword_file \(passwd.path)\n"
        let site = try await AgentSite(
            binary: try .native(), brokerConfig: broker, monitorUser: ("monitor", "monitor-secret"))
        do {
            try site.startAgent(extraConfig: [
                "auth_mode": "derived", "hello_username": "hello", "hello_password": "hello-secret",
            ])
            // Not enrolled: the broker refuses the derived password; the agent says hello anyway.
            let deadline = ContinuousClock.now + .seconds(20)
            while site.hellos().isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let hello = try #require(site.hellos().first, "no hello via the hello-only account: \(site.agentOutput)")
            #expect(hello.string.contains(Base64URL.encode(site.deviceKey.publicKey.rawRepresentation)))
            #expect(!site.statuses().contains { $0.state == .online })
            // Enrol: the service side computes the same password from its private key.
            let password = try BrokerCredentials.password(
                device: site.deviceID, servicePrivateKey: site.serviceKey, devicePublicKey: site.deviceKey.publicKey)
            try addUser(passwd, site.deviceID.rawValue, password, create: false)
            kill(site.broker.pid, SIGHUP)  // mosquitto reloads the password file
            try await site.waitForStatus("online with derived credentials") { $0.state == .online }
        } catch {
            await site.shutdown()
            throw error
        }
        await site.shutdown()
    }

    @Test func connectsOverTLSWithThePinnedCAAndRefusesAnotherCA() async throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("fleet-tls-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pki = try TestCertificates.make(in: dir.appendingPathComponent("pki"))
        let tlsPort = try FreePort.tcp()
        let config = """
            listener \(tlsPort) 127.0.0.1
            cafile \(pki.caCert.path)
            certfile \(pki.serverCert.path)
            keyfile \(pki.serverKey.path)

            """
        let site = try await AgentSite(binary: try .native(), brokerConfig: config)
        do {
            try site.startAgent(extraConfig: ["broker_port": "\(tlsPort)", "tls_ca": pki.otherCA.path])
            try await #require(site.agent).waitForOutput(
                containing: "connect to 127.0.0.1:\(tlsPort) failed", timeout: .seconds(30))
            #expect(!site.statuses().contains { $0.state == .online })
            await site.stopAgent()
            try site.startAgent(extraConfig: ["broker_port": "\(tlsPort)", "tls_ca": pki.caCert.path])
            try await site.waitForStatus("online over TLS") { $0.state == .online }
            try await site.publishConfig(try site.seal(AgentSite.goodProfile, seq: 2))
            let applied = try await site.waitForStatus("applied 2") { $0.state == .applied || $0.state == .failed }
            #expect(applied.state == .applied)
        } catch {
            await site.shutdown()
            throw error
        }
        await site.shutdown()
    }

    private func addUser(_ file: URL, _ user: String, _ password: String, create: Bool) throws {
        let p = try ManagedProcess.start(
            "mosquitto_passwd", arguments: (create ? ["-c"] : []) + ["-b", file.path, user, password])
        let deadline = ContinuousClock.now + .seconds(20)
        while p.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        guard p.exitCodeIfExited() == 0 else { throw AgentTestError("mosquitto_passwd failed: \(p.output())") }
    }
}

/// The same agent source cross-built for the Omega2 (mipsel) and run under qemu-mipsel.
@Suite("omega-agent (mipsel under qemu)", .serialized)
struct MipselAgentTests {
    @Test func mipselAgentOpensSwiftSealedEnvelopeAndApplies() async throws {
        let binary = try AgentBinary.mipsel()
        try await withAgentSite(binary: binary) { site in
            try await site.publishConfig(try site.seal(AgentSite.goodProfile, seq: 3))
            let applied = try await site.waitForStatus("applied 3") { $0.state == .applied || $0.state == .failed }
            #expect(applied.state == .applied && applied.seq == 3)
            #expect(try site.wireless().contains("option ssid '\(AgentSite.premisesSSID)'"))
            let seen = site.statuses().count
            try await site.publishConfig(try site.seal(AgentSite.goodProfile, seq: 3))
            let replay = try await site.waitForStatus(after: seen, "replay 3") { $0.state == .failed }
            #expect(replay.reason == .replay)
        }
    }
}

/// Bad inputs: each must give `failed` with the right reason and change nothing.
enum BadInput: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case malformedJSON, encOfWrongLength, tamperedCiphertext, envelopeForAnotherDevice, replayedSeq, olderSeq,
        wrongServiceKey, ssidOf33Bytes, pskOf7Characters, oversizedMessage

    var testDescription: String { rawValue }

    /// Replay cases need seq 5 applied first; the others run against a freshly provisioned agent.
    var needsEarlierApply: Bool { self == .replayedSeq || self == .olderSeq }

    var reason: ReasonCode {
        switch self {
        case .malformedJSON, .encOfWrongLength, .tamperedCiphertext, .wrongServiceKey: .badEnvelope
        case .envelopeForAnotherDevice: .wrongDevice
        case .replayedSeq, .olderSeq: .replay
        case .ssidOf33Bytes, .pskOf7Characters: .invalidProfile
        case .oversizedMessage: .tooLarge
        }
    }

    var reportedSeq: UInt64 {
        switch self {
        case .malformedJSON, .oversizedMessage: 0
        case .replayedSeq: 5
        case .olderSeq: 3
        default: 6
        }
    }

    func payload(site: AgentSite, firstEnvelope: String) throws -> String {
        switch self {
        case .malformedJSON:
            return "{\"v\":1,\"kind\":\"wifi\",\"device\":"
        case .encOfWrongLength:
            return try edit(try site.seal(AgentSite.goodProfile, seq: 6)) {
                $0["enc"] = Base64URL.encode([UInt8](repeating: 7, count: 31))
            }
        case .tamperedCiphertext:
            return try edit(try site.seal(AgentSite.goodProfile, seq: 6)) {
                var ct = try Base64URLBytes(base64url: $0["ct"] as? String ?? "").bytes
                ct[ct.count / 2] ^= 0x01
                $0["ct"] = Base64URL.encode(ct)
            }
        case .envelopeForAnotherDevice:
            let other = Curve25519.KeyAgreement.PrivateKey()
            return try site.seal(
                AgentSite.goodProfile, seq: 6, for: try DeviceID("omega-ffff"), publicKey: other.publicKey)
        case .replayedSeq:
            return firstEnvelope
        case .olderSeq:
            return try site.seal(AgentSite.goodProfile, seq: 3)
        case .wrongServiceKey:
            return try site.seal(AgentSite.goodProfile, seq: 6, serviceKey: Curve25519.KeyAgreement.PrivateKey())
        case .ssidOf33Bytes:
            return try site.sealRaw(
                "{\"ssid\":\"\(String(repeating: "s", count: 33))\",\"encryption\":\"psk2\",\"key\":\"12345678\"}",
                seq: 6)
        case .pskOf7Characters:
            return try site.sealRaw("{\"ssid\":\"Premises\",\"encryption\":\"psk2\",\"key\":\"1234567\"}", seq: 6)
        case .oversizedMessage:
            let good = try site.seal(AgentSite.goodProfile, seq: 6)
            return good + String(repeating: " ", count: Envelope.maxBytes + 1 - good.utf8.count)
        }
    }

    private func edit(_ json: String, _ change: (inout [String: Any]) throws -> Void) throws -> String {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        try change(&object)
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }
}
