import Testing

@testable import FleetProtocol

@Suite struct WiFiProfileTests {
    func issues(_ p: WiFiProfile) -> [String] { p.validate().map(\.field) }

    func psk(_ key: String?, ssid: String = "Premises", encryption: WiFiEncryption = .psk2) -> WiFiProfile {
        WiFiProfile(ssid: ssid, encryption: encryption, key: key)
    }

    @Test func ssidIsCountedInUTF8Bytes() {
        #expect(issues(psk("password1", ssid: String(repeating: "a", count: 32))).isEmpty)
        #expect(issues(psk("password1", ssid: String(repeating: "a", count: 33))) == ["ssid"])
        // "é" is 2 bytes: 16 of them are 32 bytes, 17 are 34.
        #expect(issues(psk("password1", ssid: String(repeating: "é", count: 16))).isEmpty)
        #expect(issues(psk("password1", ssid: String(repeating: "é", count: 17))) == ["ssid"])
        // 4-byte emoji: 8 fit, 9 do not, although 9 is far below 32 characters.
        #expect(issues(psk("password1", ssid: String(repeating: "📶", count: 8))).isEmpty)
        #expect(issues(psk("password1", ssid: String(repeating: "📶", count: 9))) == ["ssid"])
        #expect(issues(psk("password1", ssid: "")) == ["ssid"])
        #expect(issues(psk("password1", ssid: "a\u{0}b")) == ["ssid"])
    }

    @Test(arguments: [
        (String(repeating: "k", count: 7), false), (String(repeating: "k", count: 8), true),
        (String(repeating: "k", count: 63), true), (String(repeating: "a1", count: 32), true),
        (String(repeating: "A1", count: 32), true), (String(repeating: "g", count: 64), false),
        (String(repeating: "k", count: 65), false), ("tab\there!", false), ("newline\nx", false),
        ("pässwörd1", false), ("with space ok", true), ("~!@#$%^&*()_+", true), ("del\u{7F}eteme", false),
    ])
    func pskRulesFollowTopics(_ key: String, _ valid: Bool) {
        for mode in [WiFiEncryption.psk, .psk2, .pskMixed, .sae, .saeMixed] {
            #expect(issues(psk(key, encryption: mode)) == (valid ? [] : ["key"]), "\(mode) \(key.utf8.count)")
        }
    }

    /// The agent's rule (agent/src/profile.c, `plain_text`): bytes 0x00–0x1F and 0x7F are refused in the
    /// text fields, anything else of UTF-8 (C1 controls' encodings included) is not.
    @Test(arguments: ["\u{0}", "\u{1}", "\t", "\n", "\r", "\u{1B}", "\u{1F}", "\u{7F}"])
    func controlCharactersAreRefusedInSSIDIdentityAndPassword(_ control: String) {
        #expect(issues(psk("password1", ssid: "Pre\(control)mises")) == ["ssid"])
        let eap = WiFiProfile(
            ssid: "Corp", encryption: .wpa2, eapType: .peap, identity: "dev\(control)@corp", password: "p\(control)w")
        #expect(issues(eap) == ["identity", "password"])
        #expect(!eap.validate().contains { $0.message.contains("p\(control)w") })
    }

    @Test func textFieldsAcceptPrintableAndNonASCIIText() {
        #expect(issues(psk("password1", ssid: "Café ~ 📶 \u{80}\u{9F}")).isEmpty)
        let eap = WiFiProfile(ssid: "Corp", encryption: .wpa2, eapType: .ttls, identity: "dév ~@corp", password: "p w~")
        #expect(issues(eap).isEmpty)
    }

    @Test func keyIsRequiredForPSKAndAbsentOtherwise() {
        #expect(issues(psk(nil)) == ["key"])
        #expect(issues(psk(nil, encryption: .none)).isEmpty)
        #expect(issues(psk(nil, encryption: .owe)).isEmpty)
        #expect(issues(psk("password1", encryption: .none)) == ["key"])
        #expect(issues(psk("password1", encryption: .owe)) == ["key"])
    }

    @Test func enterpriseRules() {
        let ok = WiFiProfile(ssid: "Corp", encryption: .wpa2, eapType: .peap, identity: "dev@corp", password: "pw")
        #expect(issues(ok).isEmpty)
        let tls = WiFiProfile(
            ssid: "Corp", encryption: .wpa3, eapType: .tls, identity: "dev",
            caCert: "-----BEGIN CERTIFICATE-----\nMII=\n")
        #expect(issues(tls).isEmpty)
        #expect(issues(WiFiProfile(ssid: "Corp", encryption: .wpa2)) == ["eap_type", "identity"])
        #expect(issues(WiFiProfile(ssid: "Corp", encryption: .wpa2, eapType: .ttls, identity: "d")) == ["password"])
        #expect(
            issues(WiFiProfile(ssid: "Corp", encryption: .wpa2, eapType: .tls, identity: "d", password: "x")) == [
                "password"
            ])
        #expect(
            issues(
                WiFiProfile(
                    ssid: "Corp", encryption: .wpa2, key: "password1", eapType: .peap, identity: "d", password: "p"))
                == ["key"])
        let long = String(repeating: "i", count: 129)
        #expect(
            issues(WiFiProfile(ssid: "C", encryption: .wpa2, eapType: .peap, identity: long, password: long)) == [
                "identity", "password",
            ])
        #expect(
            issues(WiFiProfile(ssid: "C", encryption: .wpa2, eapType: .tls, identity: "d", caCert: "not pem")) == [
                "ca_cert"
            ])
        let bigPEM = "-----BEGIN CERTIFICATE-----\n" + String(repeating: "A", count: 4100)
        #expect(
            issues(WiFiProfile(ssid: "C", encryption: .wpa2, eapType: .tls, identity: "d", caCert: bigPEM)) == [
                "ca_cert"
            ])
        #expect(
            issues(
                WiFiProfile(ssid: "C", encryption: .psk2, key: "password1", eapType: .peap, identity: "d", caCert: "x"))
                == ["eap_type", "identity", "ca_cert"])
    }

    @Test(arguments: [
        ("aa:bb:cc:dd:ee:ff", true), ("AA:BB:CC:DD:EE:FF", true), ("aa-bb-cc-dd-ee-ff", false),
        ("aabbccddeeff", false), ("aa:bb:cc:dd:ee", false), ("gg:bb:cc:dd:ee:ff", false), ("aa:bb:cc:dd:ee:ff:", false),
    ])
    func bssidFormat(_ bssid: String, _ valid: Bool) {
        var p = psk("password1")
        p.bssid = bssid
        #expect(issues(p) == (valid ? [] : ["bssid"]))
    }

    @Test func reportsEveryProblemAtOnceWithoutLeakingTheKey() {
        let secret = "secret-but-64-chars-" + String(repeating: "z", count: 44)
        var p = WiFiProfile(ssid: String(repeating: "s", count: 40), encryption: .sae, key: secret)
        p.bssid = "nope"
        p.identity = "x"
        let found = p.validate()
        #expect(found.map(\.field) == ["ssid", "key", "bssid", "identity"])
        #expect(!found.contains { $0.message.contains(secret) })
        #expect(!"\(p)".contains(secret))
        #expect(!String(reflecting: p).contains(secret))
    }

    @Test func decodesWireNamesAndRejectsUnknownEncryption() throws {
        let json =
            #"{"ssid":"Corp","encryption":"wpa2","eap_type":"ttls","identity":"me","password":"pw","ca_cert":"-----BEGIN X"}"#
        let p = try MessageCodec.decode(WiFiProfile.self, from: Array(json.utf8))
        #expect(p.eapType == .ttls && p.caCert == "-----BEGIN X")
        let encoded = try MessageCodec.encodeString(p)
        #expect(encoded.contains(#""eap_type":"ttls""#) && encoded.contains(#""ca_cert""#))
        let bad = TestSupport.decodeError(WiFiProfile.self, #"{"ssid":"x","encryption":"wep","key":"12345678"}"#)
        #expect(bad?.code == .invalidField)
        #expect(bad?.message.contains("encryption") == true && bad?.message.contains("psk-mixed") == true)
        let invalid = TestSupport.decodeError(WiFiProfile.self, #"{"ssid":"x","encryption":"psk2","key":"short"}"#)
        #expect(invalid?.issues.map(\.field) == ["key"])
        #expect(invalid?.message.contains("short") == false)
    }
}
