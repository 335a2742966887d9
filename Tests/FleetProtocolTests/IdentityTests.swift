import Crypto
import Foundation
import Testing

@testable import FleetProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite struct BootstrapURITests {
    let key = Curve25519.KeyAgreement.PrivateKey().publicKey

    func uri(model: String? = "omega2p", mac: String? = "40a36bc12345") throws -> BootstrapURI {
        try BootstrapURI(deviceID: TestSupport.id("omega-a1b2"), publicKey: key, model: model, mac: mac)
    }

    @Test(arguments: [
        (String?.none, String?.none), ("omega2p", nil), (nil, "40a36bc12345"), ("omega2p", "40a36bc12345"),
    ])
    func roundTripsWithAndWithoutOptionalFields(_ model: String?, _ mac: String?) throws {
        let u = try uri(model: model, mac: mac)
        let text = u.string
        #expect(text.hasPrefix("FB1:I:omega-a1b2;K:") && text.hasSuffix(";;"))
        #expect(try BootstrapURI(parsing: text) == u)
        #expect(try BootstrapURI(parsing: "  \(text)\n") == u)
    }

    @Test func checksumCoversEverythingBeforeX() throws {
        let text = try uri().string
        let x = try #require(text.range(of: "X:"))
        let covered = Array(text[..<x.lowerBound].utf8)
        #expect(text[x.upperBound...].hasPrefix(Hex.encode(SHA256.hash(data: covered).prefix(4))))
    }

    @Test func everySingleChangedCharacterIsCaught() throws {
        let text = Array(try uri().string.utf8)
        let alphabet = Array("ABCXYZabcxyz0189-_.;:".utf8)
        var tried = 0
        for i in text.indices {
            for c in alphabet where c != text[i] {
                var changed = text
                changed[i] = c
                tried += 1
                #expect(throws: ProtocolError.self, "position \(i) → \(Character(Unicode.Scalar(c)))") {
                    try BootstrapURI(parsing: String(decoding: changed, as: UTF8.self))
                }
            }
        }
        #expect(tried > 1000)
    }

    @Test func everyTruncationIsCaught() throws {
        let text = try uri().string
        for n in 0..<text.count {
            #expect(throws: ProtocolError.self) { try BootstrapURI(parsing: String(text.prefix(n))) }
        }
        let e = #expect(throws: ProtocolError.self) { try BootstrapURI(parsing: String(text.dropLast(1))) }
        #expect(e?.message.contains("truncated") == true)
    }

    @Test func errorsSayWhatIsWrong() throws {
        let good = try uri().string
        func message(_ s: String) -> String {
            do {
                _ = try BootstrapURI(parsing: s)
                return ""
            } catch { return "\(error.code.rawValue): \(error.message)" }
        }
        #expect(message("https://example.com").contains("must start with 'FB1:'"))
        #expect(message(good.replacingOccurrences(of: "FB1:", with: "FB2:")).contains("version"))
        let flipped = good.replacingOccurrences(of: "omega-a1b2", with: "omega-a1b3")
        #expect(message(flipped).hasPrefix("checksum_mismatch"))
        let body = "FB1:K:\(Base64URL.encode(key.rawRepresentation));I:omega-a1b2;"
        #expect(message(body + "X:\(BootstrapURI.checksum(of: Array(body.utf8)));;").contains("expected I, K"))
        let noX = "FB1:I:omega-a1b2;K:\(Base64URL.encode(key.rawRepresentation));;"
        #expect(message(noX).contains("no checksum field"))
        let badID = "FB1:I:omega+a1;K:\(Base64URL.encode(key.rawRepresentation));"
        #expect(message(badID + "X:\(BootstrapURI.checksum(of: Array(badID.utf8)));;").contains("field I"))
        let shortKey = "FB1:I:omega-a1;K:AAAA;"
        #expect(message(shortKey + "X:\(BootstrapURI.checksum(of: Array(shortKey.utf8)));;").contains("field K"))
        #expect(message("").contains("FB1"))
    }

    @Test func rejectsBadModelAndMAC() throws {
        #expect(throws: ProtocolError.self) { try uri(model: "omega 2") }
        #expect(throws: ProtocolError.self) { try uri(model: String(repeating: "m", count: 33)) }
        #expect(throws: ProtocolError.self) { try uri(mac: "40:a3:6b:c1:23:45") }
        #expect(throws: ProtocolError.self) { try uri(mac: "40A36BC12345") }
        #expect(BootstrapURI.normalizeMAC("40:A3:6B:C1:23:45") == "40a36bc12345")
        #expect(BootstrapURI.normalizeMAC("40-a3-6b-c1-23") == nil)
    }
}

@Suite struct KeyFileTests {
    func mode(_ path: String) throws -> mode_t {
        var st = stat()
        try #require(stat(path, &st) == 0)
        return st.st_mode & 0o777
    }

    @Test func savedPrivateKeyHasMode0600AndReloadsEqual() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("device.key").path
        let key = Curve25519.KeyAgreement.PrivateKey()
        let old = umask(0)
        defer { umask(old) }
        try KeyFile.savePrivateKey(key, to: path)
        #expect(try mode(path) == 0o600)
        #expect(try KeyFile.loadPrivateKey(from: path).rawRepresentation == key.rawRepresentation)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("x25519-private:\(Base64URL.encode(key.rawRepresentation))\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["device.key"])
    }

    @Test func publicKeyRoundTrips() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("service.pub").path
        let key = Curve25519.KeyAgreement.PrivateKey().publicKey
        try KeyFile.savePublicKey(key, to: path)
        #expect(try mode(path) == 0o600)
        #expect(try KeyFile.loadPublicKey(from: path).rawRepresentation == key.rawRepresentation)
        #expect(throws: ProtocolError.self) { try KeyFile.loadPrivateKey(from: path) }
    }

    @Test func replacingAKeyIsAtomicAndLeavesNoTemporaryFiles() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("k").path
        let first = Curve25519.KeyAgreement.PrivateKey()
        let second = Curve25519.KeyAgreement.PrivateKey()
        try KeyFile.savePrivateKey(first, to: path)
        let inodeBefore = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? UInt64
        try KeyFile.savePrivateKey(second, to: path)
        let inodeAfter = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? UInt64
        // rename() put a new file in place: the old inode is gone, not rewritten in place.
        #expect(inodeBefore != inodeAfter)
        #expect(try KeyFile.loadPrivateKey(from: path).rawRepresentation == second.rawRepresentation)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["k"])
    }

    @Test func failedWriteLeavesTheOldFileAndNoTemporary() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The target is a directory, so rename fails after the temporary file was written.
        let target = dir.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(
            at: target.appendingPathComponent("x"), withIntermediateDirectories: false)
        #expect(throws: ProtocolError.self) {
            try KeyFile.savePrivateKey(Curve25519.KeyAgreement.PrivateKey(), to: target.path)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["taken"])
    }

    @Test func refusesAPrivateKeyReadableByOthers() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("loose.key").path
        try KeyFile.savePrivateKey(Curve25519.KeyAgreement.PrivateKey(), to: path)
        chmod(path, 0o644)
        let e = #expect(throws: ProtocolError.self) { try KeyFile.loadPrivateKey(from: path) }
        #expect(e?.message.contains("chmod 600") == true)
    }

    @Test(arguments: [
        ("", "no 'x25519-private:' line"), ("# only a comment\n", "no 'x25519-private:' line"),
        ("x25519-private:AAAA\n", "not base64url of 32 bytes"), ("ed25519-private:abc\n", "expected"),
        (
            "x25519-private:\(Base64URL.encode([UInt8](repeating: 1, count: 32)))\nx25519-private:\(Base64URL.encode([UInt8](repeating: 2, count: 32)))\n",
            "more than one"
        ),
    ])
    func rejectsMalformedKeyFiles(_ content: String, _ mention: String) throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.key").path
        #expect(
            FileManager.default.createFile(
                atPath: path, contents: Data(content.utf8), attributes: [.posixPermissions: 0o600]))
        let e = #expect(throws: ProtocolError.self) { try KeyFile.loadPrivateKey(from: path) }
        #expect(e?.code == .keyFile)
        #expect(e?.message.contains(mention) == true, "\(String(describing: e))")
    }

    @Test func acceptsCommentsBlankLinesAndCRLF() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("crlf.key").path
        let key = Curve25519.KeyAgreement.PrivateKey()
        let text = "# made by hand\r\n\r\nx25519-private:\(Base64URL.encode(key.rawRepresentation))\r\n"
        #expect(
            FileManager.default.createFile(
                atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
        #expect(try KeyFile.loadPrivateKey(from: path).rawRepresentation == key.rawRepresentation)
    }

    @Test func missingFileSaysSo() {
        let e = #expect(throws: ProtocolError.self) { try KeyFile.loadPrivateKey(from: "/nonexistent/dir/key") }
        #expect(e?.message.contains("cannot open") == true)
    }
}

@Suite struct Base64URLTests {
    @Test func roundTripsEveryLength() {
        for n in 0..<70 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
        }
    }

    @Test func rejectsNonCanonicalText() {
        #expect(Base64URL.decode("AB") == nil)  // unused bits set: "AA" is canonical for [0x00]
        #expect(Base64URL.decode("AA") == [0])
        #expect(Base64URL.decode("AAB") == nil)
        #expect(Base64URL.decode("AAE") == [0, 1])
        #expect(Base64URL.decode("A") == nil)
        #expect(Base64URL.decode("AA==") == nil)
        #expect(Base64URL.decode("A+A/") == nil)
    }
}

@Suite struct KeyFileCreationTests {
    @Test func loadOrCreateCreatesOnceThenLoads() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("agent.key").path
        let first = try KeyFile.loadOrCreatePrivateKey(at: path)
        let second = try KeyFile.loadOrCreatePrivateKey(at: path)
        #expect(first.rawRepresentation == second.rawRepresentation)
        let url = URL(fileURLWithPath: path)
        #expect(try KeyFile.loadPrivateKey(from: url).rawRepresentation == first.rawRepresentation)
    }

    @Test func helloNoncesAreFreshHex() {
        let a = Hello.makeNonce()
        #expect(a.utf8.count == 16 && Hex.decode(a) != nil)
        #expect(a != Hello.makeNonce())
    }
}
