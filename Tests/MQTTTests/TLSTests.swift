import BrokerHarness
import Foundation
import MQTT
import Testing

@Suite struct TLSTests {
    @Test func tlsWithTrustedCAWorksAndWrongCAFails() async throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pki = try TestCertificates.make(in: dir.appendingPathComponent("pki"))
        let tlsPort = try FreePort.tcp()
        let broker = try await Broker.start(
            config: """
                listener \(tlsPort) 127.0.0.1
                cafile \(pki.caCert.path)
                certfile \(pki.serverCert.path)
                keyfile \(pki.serverKey.path)

                """, directory: dir.appendingPathComponent("broker"))

        let good = MQTTClient(
            MQTTConfiguration(port: tlsPort, clientID: uniqueID("tls"), tls: MQTTTLSOptions(caFile: pki.caCert.path)))
        try await good.connect()
        try await good.subscribe("tls/t")
        try await good.publish("tls/t", string: "encrypted")
        #expect(try await receive(1, from: good).first?.string == "encrypted")
        good.close()

        let wrong = MQTTClient(
            MQTTConfiguration(port: tlsPort, clientID: uniqueID("tls"), tls: MQTTTLSOptions(caFile: pki.otherCA.path)))
        do {
            try await wrong.connect()
            Issue.record("TLS connect with the wrong CA succeeded")
        } catch let error as MQTTError {
            guard case .unreachable = error else {
                Issue.record("expected unreachable, got \(error)")
                return
            }
        }
        wrong.close()
        await broker.stop()
    }
}
