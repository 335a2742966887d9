/// Untrusted text made safe for a log line, the audit table or an event: every control character
/// (C0 0x00–0x1F, DEL 0x7F, C1 0x80–0x9F) and the Unicode line and paragraph separators become a
/// visible `\u{…}` escape, and a backslash becomes `\\`, so the escaped text is one line, cannot
/// move the cursor or recolour a terminal, and cannot imitate an escape.
public enum EscapedText {
    /// `text` with every control character and backslash escaped; text without them is unchanged.
    public static func escape(_ text: Substring) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return String(text) }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar == "\\" {
                out += "\\\\"
            } else if needsEscape(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    public static func escape(_ text: String) -> String { escape(text[...]) }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028
            || scalar.value == 0x2029 || scalar == "\\"
    }
}
