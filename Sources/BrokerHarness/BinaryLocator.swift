import Foundation

/// Finds the package's built executables for tests.
public enum BinaryLocator {
    /// `$FLEET_BIN_DIR/<name>` when that variable is set, else `<package root>/.build/debug/<name>`.
    /// - Throws: `HarnessError.notFound` when the file does not exist (build it first).
    public static func path(of name: String) throws -> String {
        let candidate: String
        if let dir = ProcessInfo.processInfo.environment["FLEET_BIN_DIR"], !dir.isEmpty {
            candidate = URL(fileURLWithPath: dir).appendingPathComponent(name).path
        } else {
            candidate = packageRoot().appendingPathComponent(".build/debug/\(name)").path
        }
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw HarnessError.notFound("\(candidate) (build it with `swift build --product \(name)`)")
        }
        return candidate
    }

    /// The first executable file called `name` in a `$PATH` directory, or nil.
    public static func onPath(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The directory holding Package.swift, found by walking up from this source file.
    public static func packageRoot(file: String = #filePath) -> URL {
        var dir = URL(fileURLWithPath: file).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
                return dir
            }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }
}
