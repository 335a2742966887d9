import Glibc
import Testing

@testable import MQTT

@Suite struct ErrorMappingTests {
    @Test func connackCodesMapToActionableErrors() {
        // v3.1.1 return codes
        #expect(MosquittoResult.connackError(4, sentUsername: true) == .badCredentials)
        #expect(MosquittoResult.connackError(5, sentUsername: false) == .notAuthorized)
        // mosquitto 2.x refuses a wrong password with "not authorized"
        #expect(MosquittoResult.connackError(5, sentUsername: true) == .badCredentials)
        #expect(MosquittoResult.connackError(2, sentUsername: false) == .connectionRefused(code: 2))
        // v5 reason codes
        #expect(MosquittoResult.connackError(0x86, sentUsername: true) == .badCredentials)
        #expect(MosquittoResult.connackError(0x87, sentUsername: false) == .notAuthorized)
        #expect(MosquittoResult.connackError(0x88, sentUsername: false) == .connectionRefused(code: 0x88))
    }

    @Test func libraryErrorsHaveRealMessages() {
        // MOSQ_ERR_ERRNO (14) takes its text from the errno captured at the failing call.
        #expect(MosquittoResult.message(code: 14, errno: ECONNREFUSED) == String(cString: strerror(ECONNREFUSED)))
        // Codes mosquitto_strerror calls "Unknown error." in 2.0.11 get our own text.
        for code: Int32 in [1, 2, 3, 4, 7, 8, 19, 23, 25] {
            #expect(!MosquittoResult.message(code: code, errno: 0).lowercased().contains("unknown"))
        }
        #expect(MosquittoResult.error(code: 4, errno: 0) == .notConnected)
    }

    @Test func errorDescriptionsSayWhatWentWrong() {
        #expect(MQTTError.publishRejected(reasonCode: 0x87).description.contains("0x87"))
        #expect(MQTTError.subscriptionRefused(filter: "a/#").description.contains("a/#"))
        #expect(MQTTError.unreachable("127.0.0.1:1: Connection refused").description.contains("Connection refused"))
    }
}
