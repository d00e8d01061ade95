import Foundation

/// Certificates made with the openssl CLI for one test run: a CA, a server certificate
/// for localhost and 127.0.0.1 signed by it, a client certificate signed by it (mTLS),
/// and an unrelated CA that trusts none of them.
public final class TestCertificates: Sendable {
    public let directory: String
    public var ca: String { directory + "/ca.pem" }
    public var serverCertificate: String { directory + "/server.pem" }
    public var serverKey: String { directory + "/server.key" }
    public var clientCertificate: String { directory + "/client.pem" }
    public var clientKey: String { directory + "/client.key" }
    public var untrustedCA: String { directory + "/untrusted-ca.pem" }

    public static func generate() async throws -> TestCertificates {
        let certificates = TestCertificates(directory: "/tmp/reef-certs-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: certificates.directory, withIntermediateDirectories: true)
        try await Processes.run("/bin/sh", ["-c", """
            set -e
            cd '\(certificates.directory)'
            key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
            key ca.key; key untrusted-ca.key; key server.key; key client.key
            openssl req -x509 -new -key ca.key -out ca.pem -days 3 -subj /CN=reef-test-ca
            openssl req -x509 -new -key untrusted-ca.key -out untrusted-ca.pem -days 3 -subj /CN=reef-untrusted-ca
            openssl req -new -key server.key -out server.csr -subj /CN=localhost
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3 -extfile server.ext -out server.pem 2>/dev/null
            openssl req -new -key client.key -out client.csr -subj /CN=reef-1
            printf 'extendedKeyUsage=clientAuth\\n' > client.ext
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3 -extfile client.ext -out client.pem 2>/dev/null
            """])
        return certificates
    }

    private init(directory: String) {
        self.directory = directory
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}
