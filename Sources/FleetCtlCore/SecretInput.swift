import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reading secrets without argv: from a file, from stdin, or from the terminal with echo off.
public enum SecretInput {
    /// The first line of a file (without its line break).
    public static func fromFile(_ path: String) throws(FleetCtlError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FleetCtlError(.invalidInput, "cannot read \(path)")
        }
        return firstLine(String(decoding: data, as: UTF8.self))
    }

    /// The first line of standard input.
    public static func fromStdin() throws(FleetCtlError) -> String {
        guard let line = readLine(strippingNewline: true) else {
            throw FleetCtlError(.invalidInput, "nothing on standard input")
        }
        return line
    }

    /// Prompts on the terminal with echo off.
    public static func prompt(_ text: String) throws(FleetCtlError) -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            throw FleetCtlError(.invalidInput, "no terminal to prompt for the key: use --key-file or --key-stdin")
        }
        FileHandle.standardError.write(Data(text.utf8))
        var saved = termios()
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else {
            throw FleetCtlError(.invalidInput, "cannot read terminal settings")
        }
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent) == 0 else {
            throw FleetCtlError(.invalidInput, "cannot turn echo off")
        }
        defer {
            _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else { throw FleetCtlError(.invalidInput, "no key entered") }
        return line
    }

    static func firstLine(_ text: String) -> String {
        String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            .trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
    }
}
