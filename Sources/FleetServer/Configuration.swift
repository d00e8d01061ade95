import Foundation
import PostgresNIO
import Wire

/// Everything `fleet-server serve` needs, as values: the CLI builds one from flags, tests
/// build one directly.
public struct FleetServerConfiguration: Sendable {
    /// PEM files for HTTPS. `clientCA` turns on mutual TLS: a device must then present a
    /// certificate signed by it as well as its bearer token.
    public struct TLSFiles: Sendable {
        public var certificateChain: String
        public var privateKey: String
        public var clientCA: String?
        public init(certificateChain: String, privateKey: String, clientCA: String? = nil) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
            self.clientCA = clientCA
        }
    }

    public var host: String
    public var port: Int
    /// `nil` serves plain HTTP, for running behind a TLS-terminating proxy only.
    public var tls: TLSFiles?
    public var database: PostgresClient.Configuration
    /// Largest gzip body accepted; larger ones get 413 so the device splits the batch.
    public var maxBodyBytes: Int
    /// Largest inflated body; a gzip bomb gets 400.
    public var maxInflatedBytes: Int
    /// Batches stored at once; one more gets 503 with `Retry-After` instead of a queue
    /// that grows until PostgreSQL or memory gives out.
    public var maxConcurrentBatches: Int
    /// Seconds a device is told to wait after a 503.
    public var retryAfterSeconds: Int
    /// How long a request waits for PostgreSQL before the server answers 503.
    public var databaseTimeout: Duration
    /// SHA-256 of the token that opens the read API; `nil` closes the read API.
    public var adminTokenHash: TokenHash?

    public init(host: String = "0.0.0.0", port: Int = 8443, tls: TLSFiles?, database: PostgresClient.Configuration,
                maxBodyBytes: Int = WireProtocol.defaultMaxBodyBytes,
                maxInflatedBytes: Int = WireProtocol.defaultMaxInflatedBytes,
                maxConcurrentBatches: Int = 8, retryAfterSeconds: Int = 5, databaseTimeout: Duration = .seconds(5),
                adminTokenHash: TokenHash? = nil) {
        self.host = host
        self.port = port
        self.tls = tls
        self.database = database
        self.maxBodyBytes = maxBodyBytes
        self.maxInflatedBytes = maxInflatedBytes
        self.maxConcurrentBatches = maxConcurrentBatches
        self.retryAfterSeconds = retryAfterSeconds
        self.databaseTimeout = databaseTimeout
        self.adminTokenHash = adminTokenHash
    }
}

extension PostgresClient.Configuration {
    /// Parses `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]`.
    /// TLS to PostgreSQL defaults to `prefer`, as libpq does.
    public static func parse(url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw ConfigurationError("postgres URL \"\(redactingPassword(url))\" is not postgres://user@host:port/database")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let tls: PostgresClient.Configuration.TLS
        switch components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer" {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-full": tls = .require(.makeClientConfiguration())
        case let other: throw ConfigurationError("sslmode=\(other) is not one of disable, prefer, require, verify-full")
        }
        return PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: database.isEmpty ? nil : database, tls: tls)
    }

    private static func redactingPassword(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "(unparseable)"
    }
}

/// A setting that cannot work, with what to change.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
