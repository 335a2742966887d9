import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads and writes X25519 key files (Topics.md, "Key files").
///
/// Format: text, `#` comment lines, one line `x25519-private:<base64url>` (or `x25519-public:`).
/// Files are written with mode 0600 atomically: a temporary file in the same directory, fsync,
/// rename, fsync of the directory. A private key file that group or others can access is refused.
public enum KeyFile {
    /// Largest key file accepted.
    public static let maxFileBytes = 4096
    static let privateTag = "x25519-private"
    static let publicTag = "x25519-public"

    /// Writes `key` to `path` (mode 0600, atomic).
    public static func savePrivateKey(_ key: Curve25519.KeyAgreement.PrivateKey, to path: String) throws(ProtocolError)
    {
        var raw = Array(key.rawRepresentation)
        defer { wipe(&raw) }
        var text = Array(
            ("# FleetBootstrap X25519 private key. Secret: keep mode 0600, never copy it off this host.\n"
                + "# public key fingerprint: \(Fingerprint.of(key.publicKey))\n"
                + "\(privateTag):").utf8)
        text += Array(Base64URL.encode(raw).utf8) + [UInt8(ascii: "\n")]
        defer { wipe(&text) }
        try atomicWrite(text, to: path)
    }

    /// Reads a private key file.
    /// - Throws: `.keyFile` when the file is missing, unsafe (group/other permissions, not a regular
    ///   file), too large, or not exactly one `x25519-private:` line of 32 bytes.
    public static func loadPrivateKey(from path: String) throws(ProtocolError) -> Curve25519.KeyAgreement.PrivateKey {
        var text = try readFile(path, requirePrivateMode: true)
        defer { wipe(&text) }
        var raw = try parse(text, tag: privateTag, path: path)
        defer { wipe(&raw) }
        do {
            return try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw)
        } catch {
            throw ProtocolError(.keyFile, "\(path): not a valid X25519 private key")
        }
    }

    /// Writes a public key file (mode 0600, atomic).
    public static func savePublicKey(_ key: Curve25519.KeyAgreement.PublicKey, to path: String) throws(ProtocolError) {
        let text =
            "# FleetBootstrap X25519 public key, fingerprint \(Fingerprint.of(key))\n"
            + "\(publicTag):\(Base64URL.encode(key.rawRepresentation))\n"
        try atomicWrite(Array(text.utf8), to: path)
    }

    /// Reads a public key file.
    public static func loadPublicKey(from path: String) throws(ProtocolError) -> Curve25519.KeyAgreement.PublicKey {
        let text = try readFile(path, requirePrivateMode: false)
        let raw = try parse(text, tag: publicTag, path: path)
        if X25519KeyCheck.isUnusable(raw) {
            throw ProtocolError(.keyFile, "\(path): low-order X25519 point, not a usable key")
        }
        do {
            return try Curve25519.KeyAgreement.PublicKey(rawRepresentation: raw)
        } catch {
            throw ProtocolError(.keyFile, "\(path): not a valid X25519 public key")
        }
    }

    /// Parses key file text: exactly one `tag:<base64url of 32 bytes>` line besides comments and blanks.
    static func parse(_ text: [UInt8], tag: String, path: String) throws(ProtocolError) -> [UInt8] {
        var found: [UInt8]?
        let prefix = Array((tag + ":").utf8)
        var lineNumber = 0
        for var line in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            while let last = line.last, last == UInt8(ascii: "\r") || last == 0x20 || last == 0x09 {
                line = line.dropLast()
            }
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            guard line.starts(with: prefix) else {
                throw ProtocolError(.keyFile, "\(path) line \(lineNumber): expected '\(tag):<base64url>'")
            }
            if found != nil { throw ProtocolError(.keyFile, "\(path): more than one key line") }
            let b64 = String(decoding: line.dropFirst(prefix.count), as: UTF8.self)
            guard let raw = Base64URL.decode(b64), raw.count == 32 else {
                throw ProtocolError(.keyFile, "\(path) line \(lineNumber): key is not base64url of 32 bytes")
            }
            found = raw
        }
        guard let found else { throw ProtocolError(.keyFile, "\(path): no '\(tag):' line") }
        return found
    }

    static func readFile(_ path: String, requirePrivateMode: Bool) throws(ProtocolError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw ProtocolError(.keyFile, "\(path): cannot open (\(errnoText()))") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw ProtocolError(.keyFile, "\(path): cannot stat (\(errnoText()))") }
        if st.st_mode & S_IFMT != S_IFREG { throw ProtocolError(.keyFile, "\(path): not a regular file") }
        if requirePrivateMode && st.st_mode & 0o077 != 0 {
            throw ProtocolError(
                .keyFile,
                "\(path): mode \(String(st.st_mode & 0o777, radix: 8)) lets group or others read a private key; run chmod 600"
            )
        }
        if st.st_size > maxFileBytes {
            throw ProtocolError(.keyFile, "\(path): \(st.st_size) bytes, at most \(maxFileBytes) allowed")
        }
        var buffer = [UInt8](repeating: 0, count: maxFileBytes + 1)
        var total = 0
        while total < buffer.count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 {
                if errno == EINTR { continue }
                wipe(&buffer)
                throw ProtocolError(.keyFile, "\(path): read failed (\(errnoText()))")
            }
            if n == 0 { break }
            total += n
        }
        if total > maxFileBytes {
            wipe(&buffer)
            throw ProtocolError(.keyFile, "\(path): larger than \(maxFileBytes) bytes")
        }
        let text = Array(buffer[0..<total])
        wipe(&buffer)
        return text
    }

    /// Writes `bytes` to `path` with mode 0600: temp file, fsync, rename, fsync directory.
    static func atomicWrite(_ bytes: [UInt8], to path: String) throws(ProtocolError) {
        var random = SystemRandomNumberGenerator()
        let tmp = "\(path).tmp-\(getpid())-\(String(random.next() as UInt64, radix: 16))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 { throw ProtocolError(.keyFile, "\(path): cannot create temporary file (\(errnoText()))") }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            defer { close(fd) }
            if fchmod(fd, 0o600) != 0 { throw ProtocolError(.keyFile, "\(path): chmod failed (\(errnoText()))") }
            var written = 0
            while written < bytes.count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ProtocolError(.keyFile, "\(path): write failed (\(errnoText()))")
                }
                written += n
            }
            if fsync(fd) != 0 { throw ProtocolError(.keyFile, "\(path): fsync failed (\(errnoText()))") }
        }
        if rename(tmp, path) != 0 { throw ProtocolError(.keyFile, "\(path): rename failed (\(errnoText()))") }
        ok = true
        let dir = directory(of: path)
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buf in
            guard let base = buf.baseAddress else { return }
            // Best effort: Swift gives no guarantee against copies, but the buffers we own are cleared.
            _ = memset(base, 0, buf.count)
        }
    }
}

extension KeyFile {
    /// `savePrivateKey(_:to:)` for a file URL.
    public static func savePrivateKey(_ key: Curve25519.KeyAgreement.PrivateKey, to url: URL) throws(ProtocolError) {
        try savePrivateKey(key, to: url.path)
    }

    /// `loadPrivateKey(from:)` for a file URL.
    public static func loadPrivateKey(from url: URL) throws(ProtocolError) -> Curve25519.KeyAgreement.PrivateKey {
        try loadPrivateKey(from: url.path)
    }

    /// `savePublicKey(_:to:)` for a file URL.
    public static func savePublicKey(_ key: Curve25519.KeyAgreement.PublicKey, to url: URL) throws(ProtocolError) {
        try savePublicKey(key, to: url.path)
    }

    /// `loadPublicKey(from:)` for a file URL.
    public static func loadPublicKey(from url: URL) throws(ProtocolError) -> Curve25519.KeyAgreement.PublicKey {
        try loadPublicKey(from: url.path)
    }

    /// Loads the private key at `path`, or creates one (mode 0600) when the file does not exist,
    /// as the agent does on first start.
    public static func loadOrCreatePrivateKey(at path: String) throws(ProtocolError)
        -> Curve25519.KeyAgreement.PrivateKey
    {
        if access(path, F_OK) != 0 && errno == ENOENT {
            let key = Curve25519.KeyAgreement.PrivateKey()
            try savePrivateKey(key, to: path)
            return key
        }
        return try loadPrivateKey(from: path)
    }
}
