import Foundation
import Testing

@Suite("broker-config/selftest.sh")
struct SelfTestScriptTests {
    /// The operator-facing site check (stock mosquitto clients against a real broker) passes.
    @Test func siteSelfTestPasses() async throws {
        let script = SiteBroker.repositoryRoot.appendingPathComponent("broker-config/selftest.sh").path
        let result = try await run(script, [])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("0 failure(s)"))
        #expect(!result.output.contains("FAIL"))
    }
}
