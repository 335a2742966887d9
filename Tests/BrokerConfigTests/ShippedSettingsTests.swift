import Foundation
import Testing

/// Settings of the shipped broker configurations that the rest of the system relies on.
@Suite struct ShippedSettingsTests {
    /// The active (uncommented) lines of a mosquitto configuration.
    static func activeLines(_ url: URL) throws -> [String] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// Nagle's algorithm off on the broker's sockets too: with it on, a reply waits for the client's
    /// delayed ACK (the client side: MQTTTests' tcpNoDelayIsSetOnTheSocket).
    @Test func brokerSocketsDisableNagle() async throws {
        let dev = SiteBroker.repositoryRoot.appendingPathComponent("broker-config/dev.conf")
        #expect(try Self.activeLines(dev).contains("set_tcp_nodelay true"))
        try await SiteBroker.with { site in
            let rendered = try Self.activeLines(site.directory.appendingPathComponent("mosquitto.conf"))
            #expect(rendered.contains("set_tcp_nodelay true"))
        }
    }
}
