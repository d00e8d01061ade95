import FleetServer
import Foundation
import Testing

/// Settings and secrets the server refuses before it starts.
struct ConfigurationTests {
    @Test func theAdminTokenFileMustBeOwnerOnly() throws {
        let path = "/tmp/reef-admin-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "admin-token-0123456789abcdef\n".write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o644)
        #expect(throws: ConfigurationError.self) { try AdminToken.load(path: path) }
        do {
            _ = try AdminToken.load(path: path)
        } catch {
            #expect("\(error)" == "the admin token file \(path) has mode 644; others could read the admin token. Run `chmod 600 \(path)`")
        }
        chmod(path, 0o400)
        #expect(try AdminToken.load(path: path) == "admin-token-0123456789abcdef")
    }

    @Test func settingsThatCannotWorkAreRefused() throws {
        var configuration = FleetServerConfiguration(tls: nil, database: .init(host: "x", username: "u", password: nil, database: nil, tls: .disable))
        #expect(configuration.validationErrors() == [])
        configuration.connections.idleTimeout = .zero
        #expect(configuration.validationErrors() == ["idleTimeoutSeconds is 0; it must be above 0 and at most 86400 (a day)"])
        configuration.connections.idleTimeout = .seconds(30)
        configuration.maxConcurrentBatchesPerDevice = 0
        #expect(configuration.validationErrors() == ["maxConcurrentBatchesPerDevice is 0; it must be at least 1"])
    }
}
