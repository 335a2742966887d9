import FleetProtocol
import Testing

@Suite("Escaped text")
struct EscapedTextTests {
    @Test func controlCharactersAndBackslashesBecomeVisibleEscapes() {
        #expect(EscapedText.escape("plain text, ünïcode 📶") == "plain text, ünïcode 📶")
        #expect(EscapedText.escape("a\nb\r\t\u{0}\u{1b}[31m") == "a\\u{a}b\\u{d}\\u{9}\\u{0}\\u{1b}[31m")
        #expect(EscapedText.escape("\u{7f}\u{85}\u{9f}\u{2028}\u{2029}") == "\\u{7f}\\u{85}\\u{9f}\\u{2028}\\u{2029}")
        #expect(EscapedText.escape("a\\u{a}") == "a\\\\u{a}")
    }
}
