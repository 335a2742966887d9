import Foundation
import MQTT
import Testing

@testable import BrokerHarness

@Suite struct BrokerHarnessTests {
    @Test func managedProcessFeedsStdinAndCapturesOutput() async throws {
        let process = try ManagedProcess.start("cat", arguments: [], stdin: Data("piped through cat\n".utf8))
        try await process.waitForOutput(containing: "piped through cat", timeout: .seconds(10))
        #expect(try await process.waitForExit(timeout: .seconds(10)) == 0)
        #expect(!process.isRunning)
    }

    @Test func managedProcessReportsExitCodeAndStderr() async throws {
        let process = try ManagedProcess.start("ls", arguments: ["/definitely/not/here"])
        let code = try await process.waitForExit(timeout: .seconds(10))
        #expect(code != 0)
        #expect(process.output().contains("/definitely/not/here"))
    }

    @Test func terminateStopsAProcessAndIsIdempotent() async throws {
        let process = try ManagedProcess.start("sleep", arguments: ["30"])
        #expect(process.isRunning)
        #expect(await process.terminate() == 128 + SIGTERM)
        #expect(await process.terminate() == 128 + SIGTERM)
        await process.kill()
        #expect(!process.isRunning)
    }

    @Test func startingAMissingExecutableFails() {
        #expect(throws: HarnessError.self) {
            try ManagedProcess.start("/nonexistent/fleet-binary", arguments: [])
        }
        #expect(throws: HarnessError.self) { try BinaryLocator.path(of: "no-such-fleet-binary") }
    }

    @Test func brokerKillRestartAndStop() async throws {
        let broker = try await Broker.start()
        let port = broker.port
        let firstPID = broker.pid
        #expect(firstPID > 0)
        #expect(FreePort.isAccepting(port: port))

        await broker.kill()
        #expect(broker.pid == 0)
        #expect(!FreePort.isAccepting(port: port))

        try await broker.restart()
        #expect(broker.port == port)
        #expect(broker.pid != firstPID)
        let client = try await connectedClient(broker)
        client.close()

        await broker.stop()
        await broker.stop()
        #expect(broker.pid == 0)
        #expect(!FreePort.isAccepting(port: port))
        #expect(broker.logText().contains("mosquitto version"))
    }

    @Test func callerConfigReplacesDevDefaults() async throws {
        let broker = try await Broker.start(config: "allow_anonymous false\n")
        let text = broker.configurationText(port: broker.port)
        #expect(text.contains("listener \(broker.port) 127.0.0.1"))
        #expect(!text.contains("allow_anonymous true"))
        #expect(text.contains("allow_anonymous false"))
        let anonymous = MQTTClient(MQTTConfiguration(port: broker.port, clientID: uniqueID()))
        await #expect(throws: MQTTError.notAuthorized) { try await anonymous.connect() }
        anonymous.close()
        await broker.stop()
    }

    @Test func perListenerSettingsFromCallerComeFirst() async throws {
        let broker = try await Broker.start(config: "per_listener_settings true\nallow_anonymous true\n")
        let text = broker.configurationText(port: broker.port)
        let perListener = try #require(text.range(of: "per_listener_settings true"))
        let listener = try #require(text.range(of: "listener \(broker.port)"))
        #expect(perListener.lowerBound < listener.lowerBound)
        let client = try await connectedClient(broker)
        client.close()
        await broker.stop()
    }

    @Test func testCertificatesChainToTheirCA() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pki = try TestCertificates.make(in: dir)
        let verified = try runTool("openssl", ["verify", "-CAfile", pki.caCert.path, pki.serverCert.path])
        #expect(verified.contains("OK"))
        #expect(throws: HarnessError.self) {
            try runTool("openssl", ["verify", "-CAfile", pki.otherCA.path, pki.serverCert.path])
        }
        let mode = try FileManager.default.attributesOfItem(atPath: pki.serverKey.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
