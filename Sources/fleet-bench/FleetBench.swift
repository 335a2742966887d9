import ArgumentParser
import BrokerHarness
import Crypto
import FleetProtocol
import FleetSim
import Foundation
import MQTT

/// Benchmarks that print rates; the test suite asserts behaviour only.
@main
struct FleetBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-bench",
        abstract: "Prints FleetBootstrap's rates (a release build gives the figures worth quoting).",
        subcommands: [RunBenchmark.self, FaultsCommand.self, CryptoRates.self, BrokerRates.self, Worker.self])
}

struct CryptoRates: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crypto", abstract: "HPKE auth-mode seal and open of a Wi-Fi profile envelope, per second.")

    @Option(help: "Envelopes to seal and then open.") var count = 2_000

    func run() throws {
        guard count > 0 else { throw ValidationError("--count must be positive") }
        let service = Curve25519.KeyAgreement.PrivateKey()
        let device = Curve25519.KeyAgreement.PrivateKey()
        let id = try DeviceID("omega-a1b2")
        let profile = WiFiProfile(ssid: "Premises", encryption: .psk2, key: "correct horse battery")
        let clock = ContinuousClock()
        var envelopes: [Envelope] = []
        envelopes.reserveCapacity(count)
        let sealTime = try clock.measure {
            for i in 1...count {
                envelopes.append(
                    try EnvelopeCrypto.seal(
                        profile: profile, seq: UInt64(i), device: id, devicePublicKey: device.publicKey,
                        servicePrivateKey: service))
            }
        }
        let openTime = try clock.measure {
            for e in envelopes {
                _ = try EnvelopeCrypto.open(
                    e, device: id, devicePrivateKey: device, servicePublicKey: service.publicKey)
            }
        }
        print("envelopes: \(count)")
        print(
            String(
                format: "seal: %.0f/s (%.1f µs each)", Double(count) / seconds(sealTime),
                seconds(sealTime) * 1e6 / Double(count)))
        print(
            String(
                format: "open: %.0f/s (%.1f µs each)", Double(count) / seconds(openTime),
                seconds(openTime) * 1e6 / Double(count)))
    }
}

struct BrokerRates: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mqtt",
        abstract: "QoS 1 publishes acked per second by a private mosquitto on loopback (one client).")

    @Option(help: "Publishes in all.") var count = 70_000
    @Option(help: "Publishes in flight at once.") var window = 2_000
    @Option(help: "Payload bytes.") var payload = 64

    func run() async throws {
        guard count > 0, window > 0, payload >= 0 else { throw ValidationError("counts must be positive") }
        let broker = try await Broker.start()
        let client = MQTTClient(MQTTConfiguration(host: broker.host, port: broker.port, clientID: "fleet-bench"))
        try await client.connect()
        let body = [UInt8](repeating: 0x42, count: payload)
        let (count, window) = (count, window)
        let started = ContinuousClock.now
        let acked = try await publishWindowed(
            client, topic: "bench/q1", payload: body, count: count, window: window)
        let elapsed = seconds(ContinuousClock.now - started)
        client.close()
        await broker.stop()
        print(
            String(
                format: "QoS 1 publishes acked: %d in %.2f s = %.0f/s (window %d, %d-byte payload)", acked, elapsed,
                Double(acked) / elapsed, window, payload))
    }
}
