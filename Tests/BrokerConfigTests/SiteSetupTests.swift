import Foundation
import Testing

@Suite("site-setup.sh input checks")
struct SiteSetupTests {
    private var script: String { SiteBroker.repositoryRoot.appendingPathComponent("scripts/site-setup.sh").path }

    private func scratch() -> URL {
        URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "fleet-setup-\(UUID().uuidString.prefix(8))")
    }

    @Test(arguments: [
        ["--prefix", "a/+/b"], ["--prefix", "/lead"], ["--device-port", "0"], ["--local-port", "70000"],
        ["--hosts", "bad host"], ["--operator", "hello"], ["--operator", "a/b"],
        ["--dynsec-plugin", "/nonexistent.so"],
        ["--unknown", "x"],
    ])
    func badInputIsRefusedAndCreatesNothing(arguments: [String]) async throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await run(script, [dir.path] + arguments)
        #expect(result.status != 0)
        #expect(!result.output.isEmpty, "says what is wrong")
        #expect(
            !FileManager.default.fileExists(atPath: dir.appendingPathComponent("broker/dynamic-security.json").path))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("secrets").path))
    }

    @Test func refusesToOverwriteAnExistingSite() async throws {
        let dir = scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try await run(script, [dir.path])
        #expect(first.status == 0)
        let before = try String(contentsOf: dir.appendingPathComponent("secrets/provisiond.password"), encoding: .utf8)
        let again = try await run(script, [dir.path])
        #expect(again.status != 0)
        #expect(again.output.contains("refusing to overwrite"))
        let after = try String(contentsOf: dir.appendingPathComponent("secrets/provisiond.password"), encoding: .utf8)
        #expect(before == after)
    }
}
