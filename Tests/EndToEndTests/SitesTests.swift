import BrokerHarness
import Crypto
import FleetCtlCore
import FleetProtocol
import FleetSim
import Foundation
import Testing

@testable import Provisioning

/// Several sites, each with its own broker and provisiond, against one registry database (issue 15):
/// a provisiond serves one named site, its registry is bound to it, and fleetctl addresses a site
/// through its sites file; a request that reaches another site's provisiond changes nothing.
@Suite("Sites")
struct SitesTests {
    /// The core's decision on a request that names a site.
    func decide(serving site: String?, requestFor wanted: String?) throws -> (ok: Bool, error: OperatorError?) {
        let core = ProvisioningCore(
            identity: ServiceIdentity(privateKey: Curve25519.KeyAgreement.PrivateKey()),
            topics: try TopicTree(prefix: "bootstrap"), roles: OperatorRoles(["alice": .admin]), site: site)
        let device = TestDevice(id: "site-device")
        var request = try OperatorRequest(
            id: "r1", op: .enroll, replyTo: "bootstrap/v1/ops/reply/alice/r1",
            arguments: EnrollArgs(devices: [EnrollEntry(uri: device.uri, group: nil)]))
        var payload = try MessageCodec.encode(request)
        if let wanted, Identifier.siteProblem(wanted) == nil {
            request.site = wanted
            payload = try MessageCodec.encode(request)
        } else if let wanted {
            // Not a site name: written by hand, as a client that does not check would send it.
            var object = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
            object["site"] = wanted
            payload = Array(try JSONSerialization.data(withJSONObject: object))
        }
        let decision = try core.decide(.operatorRequest(payload: payload, from: "alice"), in: FleetState(), now: 1)
        guard case .reply(_, let bytes) = decision.actions.last else { throw SiteError("no reply") }
        let reply = try MessageCodec.decode(OperatorReply.self, from: bytes)
        if reply.ok == false { #expect(decision.changes.isEmpty, "a refused request wrote \(decision.changes)") }
        return (reply.ok == true, reply.error)
    }

    @Test func requestForTheServedSiteOrForNoSiteRuns() throws {
        #expect(try decide(serving: "north", requestFor: "north").ok)
        #expect(try decide(serving: "north", requestFor: nil).ok)
        #expect(try decide(serving: nil, requestFor: nil).ok)
    }

    @Test func requestForAnotherSiteIsRefusedAndChangesNothing() throws {
        let other = try decide(serving: "north", requestFor: "south")
        #expect(!other.ok && other.error?.code == .wrongSite)
        #expect(other.error?.message == "request is for site 'south'; this provisiond serves site 'north'")
        let unnamed = try decide(serving: nil, requestFor: "south")
        #expect(!unnamed.ok && unnamed.error?.code == .wrongSite)
        let invalid = try decide(serving: "north", requestFor: "South/#")
        #expect(!invalid.ok && invalid.error?.code == .badRequest)
    }

    @Test func siteNamesAreCheckedOnTheWire() throws {
        for bad in ["", "North", "1north", "north-east", "a/b", String(repeating: "a", count: 33)] {
            #expect(Identifier.siteProblem(bad) != nil, "\(bad)")
            let request = OperatorRequest(id: "r1", op: .status, replyTo: "bootstrap/v1/ops/reply/alice/r1", site: bad)
            #expect(request.validationIssues().contains { $0.field == "site" }, "\(bad)")
        }
        for good in ["north", "site_2", String(repeating: "a", count: 32)] {
            #expect(Identifier.siteProblem(good) == nil)
        }
    }

    @Test func registryIsBoundToTheFirstSiteNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sites-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cipher = ServiceIdentity(privateKey: Curve25519.KeyAgreement.PrivateKey()).atRestCipher
        let registry = try Registry(path: dir.appendingPathComponent("r.sqlite").path, cipher: cipher)
        try registry.bind(site: nil)  // an unnamed registry stays unnamed
        try registry.bind(site: "north")
        try registry.bind(site: "north")
        #expect(throws: ProvisioningError.self) { try registry.bind(site: "south") }
        #expect(throws: ProvisioningError.self) { try registry.bind(site: nil) }
        #expect(
            Registry.siteMismatch(recorded: "north", wanted: "south")
                == "the registry belongs to site 'north', not 'south' (--site)")
    }

    @Test func sitesFileParsesAndRefusesMistakesWithTheirLine() throws {
        let file = try SitesFile.parse(
            """
            # two sites
            [north]
            host = mqtt.north.example
            port = 8883
            ca-file = /etc/fb/north-ca.crt

            [south]
            username = bob
            password-file = /home/bob/south.password
            prefix = lab
            """, path: "sites.conf")
        #expect(
            try file.site("north")
                == SitesFile.Site(host: "mqtt.north.example", port: 8883, caFile: "/etc/fb/north-ca.crt"))
        #expect(try file.site("south").username == "bob" && file.site("south").prefix == "lab")
        #expect(throws: FleetCtlError(.invalidInput, "no site 'east' in sites.conf; it has: north, south")) {
            try file.site("east")
        }
        let mistakes = [
            ("[north]\npassword = secret", "line 2: no passwords in the sites file"),
            ("[north]\ncolour = blue", "line 2: unknown key 'colour'"),
            ("host = a", "line 1: 'host' before the first [SITE] section"),
            ("[North]", "line 1: site name contains 'N'"),
            ("[north]\n[north]", "line 2: site 'north' appears twice"),
            ("[north]\nport = 99999", "line 2: port must be 1-65535"),
            ("[north]\nhost", "line 2: expected KEY = VALUE"),
        ]
        for (text, expected) in mistakes {
            do {
                _ = try SitesFile.parse(text, path: "s.conf")
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.message.hasPrefix("s.conf \(expected)"), "\(error.message)")
            }
        }
    }

    /// A real staging site serving `north`: fleetctl reaches it by site name from a sites file; a
    /// sites file that sends `south` to this broker gets `wrong_site` and enrolls nothing; and a
    /// provisiond started for `south` on north's registry refuses to start.
    @Test func fleetctlAddressesASiteAndAnotherSitesProvisiondRefuses() async throws {
        try await StagingSite.with(provisiondArguments: ["--site", "north"]) { site in
            let sites = site.base.appendingPathComponent("sites.conf")
            let password = site.site.appendingPathComponent("secrets/alice.password").path
            try """
            [north]
            host = localhost
            port = \(site.tlsPort)
            ca-file = \(site.caFile)
            username = alice
            password-file = \(password)

            [south]
            port = \(site.localPort)
            """.write(to: sites, atomically: true, encoding: .utf8)
            let viaFile = ["--sites-file", sites.path]

            let status = try await site.fleetctl(["status", "--site", "north"] + viaFile, listener: [])
            #expect(status.status == 0 && status.output.contains("site: north"), "\(status.output)")

            let device = try SimulatedDevice(
                id: "south-device", port: site.localPort, servicePublicKey: site.serviceKey)
            let refused = try await site.fleetctl(["enroll", device.uri, "--site", "south"] + viaFile, listener: [])
            #expect(refused.status != 0, "\(refused.output)")
            #expect(
                refused.output.contains("wrong_site: request is for site 'south'; this provisiond serves site 'north'"),
                "\(refused.output)")
            let after = try await site.fleetctl(["status", "--json"])
            #expect(after.status == 0 && !after.output.contains("south-device"), "\(after.output)")

            let unknown = try await site.fleetctl(["status", "--site", "east"] + viaFile, listener: [])
            #expect(
                unknown.status != 0 && unknown.output.contains("no site 'east' in \(sites.path); it has: north, south"))

            // The same registry, started for another site: refused before it connects.
            let other = try ManagedProcess.start(
                try BinaryLocator.path(of: "provisiond"),
                arguments: [
                    "--port", String(site.localPort), "--username", "provisiond",
                    "--password-file", site.site.appendingPathComponent("secrets/provisiond.password").path,
                    "--database", site.base.appendingPathComponent("registry.sqlite").path,
                    "--service-key", site.base.appendingPathComponent("keys/service.key").path, "--site", "south",
                ])
            let code = try await other.waitForExit(timeout: .seconds(60))
            #expect(code != 0)
            #expect(other.output().contains("the registry belongs to site 'north', not 'south'"), "\(other.output())")
        }
    }
}
