import EdgeCore
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
    /// Rows (readings plus events) in one batch; more get 413 so the device splits it. The
    /// default is the agent's own largest `batch_rows`, which this bound keeps well inside
    /// `storeTimeout`.
    public var maxBatchRows: Int
    /// The whole body must arrive within this, or the answer is 408 and the connection is
    /// closed. The body is read before a storage slot is taken.
    public var bodyTimeout: Duration
    /// Batches stored at once; one more gets 503 with `Retry-After` instead of a queue
    /// that grows until PostgreSQL or memory gives out.
    public var maxConcurrentBatches: Int
    /// Batches one device may have stored at once, so one device cannot take every slot.
    public var maxConcurrentBatchesPerDevice: Int
    /// Seconds a device is told to wait after a 503.
    public var retryAfterSeconds: Int
    /// How long a request waits for a PostgreSQL connection (and a read for its answer)
    /// before the server answers 503.
    public var databaseTimeout: Duration
    /// PostgreSQL's `statement_timeout` for each statement that stores a batch: it is
    /// cancelled by PostgreSQL and rolled back past this, and the answer (503) says nothing
    /// was stored. A started store is never abandoned by the server itself.
    public var storeTimeout: Duration
    /// Health reports kept per device (the newest); older ones are deleted as new ones arrive.
    public var healthReportsKept: Int
    /// Failed admin logins one client address may make per `adminFailureWindow` before it
    /// gets 429 for the rest of the window.
    public var adminFailuresAllowed: Int
    public var adminFailureWindow: Duration
    /// Handshake, idle and connection-count limits.
    public var connections: ConnectionLimits
    /// SHA-256 of the token that opens the read API; `nil` closes the read API.
    public var adminTokenHash: TokenHash?
    /// The job workers every `serve` runs (the queue, retries, health thresholds).
    public var worker = WorkerSettings()
    /// Receivers, routes and timing for the server's notifications (none by default).
    public var notifications: NotificationSettings
    /// Operator tokens, the metrics token and the dashboard's session limits.
    public var dashboard = DashboardSettings()

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
        self.maxBatchRows = 100_000
        self.bodyTimeout = .seconds(60)
        self.maxConcurrentBatches = maxConcurrentBatches
        self.maxConcurrentBatchesPerDevice = 2
        self.retryAfterSeconds = retryAfterSeconds
        self.databaseTimeout = databaseTimeout
        self.storeTimeout = .seconds(30)
        self.healthReportsKept = 1_000
        self.adminFailuresAllowed = 5
        self.adminFailureWindow = .seconds(60)
        self.connections = ConnectionLimits()
        self.adminTokenHash = adminTokenHash
        self.notifications = NotificationSettings()
    }
}

extension FleetServerConfiguration {
    /// Every setting that cannot work, each with its key: every count at least 1, every
    /// timeout above zero and at most a day (NIO keeps timeouts in 64-bit nanoseconds), the
    /// workers' and the notifications' own rules. Empty when the server can start.
    public func validationErrors() -> [String] {
        var errors: [String] = []
        let counts: [(String, Int)] = [
            ("port", port), ("maxBodyBytes", maxBodyBytes), ("maxInflatedBytes", maxInflatedBytes), ("maxBatchRows", maxBatchRows),
            ("maxConcurrentBatches", maxConcurrentBatches), ("maxConcurrentBatchesPerDevice", maxConcurrentBatchesPerDevice),
            ("retryAfterSeconds", retryAfterSeconds), ("healthReportsKept", healthReportsKept),
            ("adminFailuresAllowed", adminFailuresAllowed), ("maxConnections", connections.maxConnections),
            ("maxConnectionsPerAddress", connections.maxConnectionsPerAddress),
        ]
        for (name, value) in counts where value < 1 { errors.append("\(name) is \(value); it must be at least 1") }
        if port > 65_535 { errors.append("port is \(port); it must be at most 65535") }
        let durations: [(String, Duration)] = [
            ("databaseTimeoutSeconds", databaseTimeout), ("storeTimeoutSeconds", storeTimeout), ("bodyTimeoutSeconds", bodyTimeout),
            ("idleTimeoutSeconds", connections.idleTimeout), ("handshakeTimeoutSeconds", connections.handshakeTimeout),
            ("adminFailureWindow", adminFailureWindow),
        ]
        for (name, value) in durations where value <= .zero || value > .seconds(86_400) {
            errors.append("\(name) is \(value.secondsText); it must be above 0 and at most 86400 (a day)")
        }
        if let problem = dashboard.validationError() { errors.append(problem) }
        return errors + worker.validationErrors() + notifications.validationErrors()
    }
}

extension PostgresClient.Configuration {
    /// Parses `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]`.
    /// TLS to PostgreSQL defaults to `require` (a password and every reading would otherwise
    /// cross the network in clear), except for a server on this machine (localhost,
    /// 127.0.0.1, ::1), where it defaults to `prefer` as libpq does.
    public static func parse(url: String) throws -> PostgresClient.Configuration {
        let parsed = try PostgresURL(url)
        let tls: PostgresClient.Configuration.TLS = switch parsed.sslMode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        return PostgresClient.Configuration(host: parsed.host, port: parsed.port, username: parsed.username,
                                            password: parsed.password, database: parsed.database, tls: tls)
    }
}

/// A `postgres://` URL, taken apart once for both the server's pool and the one-off
/// login check.
struct PostgresURL {
    enum SSLMode: String { case disable, prefer, require }

    var host: String
    var port: Int
    var username: String
    var password: String?
    var database: String?
    var sslMode: SSLMode

    init(_ url: String) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw ConfigurationError("postgres URL \"\(Self.redactingPassword(url))\" is not postgres://user@host:port/database")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        switch components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? Self.defaultSSLMode(host: host).rawValue {
        case "disable": sslMode = .disable
        case "prefer": sslMode = .prefer
        case "require", "verify-full": sslMode = .require
        case let other: throw ConfigurationError("sslmode=\(other) is not one of disable, prefer, require, verify-full")
        }
        self.host = host
        port = components.port ?? 5432
        username = components.user ?? "postgres"
        password = components.password
        self.database = database.isEmpty ? nil : database
    }

    /// `prefer` for a server on this machine, `require` for any other host.
    static func defaultSSLMode(host: String) -> SSLMode {
        ["localhost", "127.0.0.1", "::1", "[::1]"].contains(host.lowercased()) ? .prefer : .require
    }

    static func redactingPassword(_ url: String) -> String {
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
