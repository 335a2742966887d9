import Foundation

/// A throwaway PKI for TLS tests, made with the openssl CLI.
public enum TestCertificates {
    /// Creates a CA, a server certificate for CN 127.0.0.1 with SANs IP:127.0.0.1 and DNS:localhost
    /// signed by that CA, and an unrelated second CA (for "wrong CA" tests). Keys are mode 0600.
    public static func make(in dir: URL) throws -> (caCert: URL, serverCert: URL, serverKey: URL, otherCA: URL) {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let openssl = "openssl"
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

        for (name, cn) in [("ca", "Fleet Test CA"), ("other-ca", "Unrelated Test CA")] {
            try runTool(
                openssl,
                ["req", "-x509"] + ec + [
                    "-keyout", path("\(name).key"), "-out", path("\(name).crt"), "-days", "30",
                    "-subj", "/CN=\(cn)",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                ])
        }
        try runTool(
            openssl,
            ["req", "-new"] + ec + [
                "-keyout", path("server.key"), "-out", path("server.csr"), "-subj", "/CN=127.0.0.1",
            ])
        let ext = """
            basicConstraints=CA:FALSE
            keyUsage=critical,digitalSignature,keyEncipherment
            extendedKeyUsage=serverAuth
            subjectAltName=IP:127.0.0.1,DNS:localhost

            """
        guard FileManager.default.createFile(atPath: path("server.ext"), contents: Data(ext.utf8)) else {
            throw HarnessError.io("cannot write \(path("server.ext"))")
        }
        try runTool(
            openssl,
            [
                "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
                "-CAcreateserial", "-out", path("server.crt"), "-days", "30", "-extfile", path("server.ext"),
            ])
        for key in ["ca.key", "other-ca.key", "server.key"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path(key))
        }
        return (
            URL(fileURLWithPath: path("ca.crt")), URL(fileURLWithPath: path("server.crt")),
            URL(fileURLWithPath: path("server.key")), URL(fileURLWithPath: path("other-ca.crt"))
        )
    }
}
