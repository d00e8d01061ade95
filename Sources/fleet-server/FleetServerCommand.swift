import ArgumentParser
import FleetServer
import Foundation
import Logging
import PostgresNIO

@main
struct FleetServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-server",
        abstract: "The reef-edge fleet server: receives device batches over HTTPS and stores them in PostgreSQL.",
        subcommands: [Serve.self, Migrate.self, Devices.self])
}

/// Where PostgreSQL is. The URL may carry a password, so it can come from the environment
/// instead of the command line (where `ps` shows it).
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("postgres-url"),
            help: "postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]; default $FLEET_POSTGRES_URL")
    var url: String?

    func url(fallback: String? = nil) throws -> String {
        guard let url = url ?? ProcessInfo.processInfo.environment["FLEET_POSTGRES_URL"] ?? fallback else {
            throw ValidationError("say where PostgreSQL is: --postgres-url or FLEET_POSTGRES_URL")
        }
        return url
    }

    /// Runs `body` with a started client and stops the client afterwards. Logs in once
    /// first, so a wrong password or host fails at once with PostgreSQL's answer.
    func withStore<T: Sendable>(_ body: @escaping @Sendable (PostgresFleetStore) async throws -> T) async throws -> T {
        let logger = Logger(label: "fleet-server")
        let url = try url()
        try await DatabaseCheck.login(url: url, logger: logger)
        let client = PostgresClient(configuration: try .parse(url: url), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await client.run(); return nil }
            defer { group.cancelAll() }
            try await Schema.migrate(client, logger: logger)
            return try await body(PostgresFleetStore(client: client, logger: logger))
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply migrations, then serve the sync and read APIs.")

    /// The same settings as the flags, from a JSON file, plus the limits and timeouts
    /// docs/PROTOCOL.md lists; a flag wins over the file.
    struct File: Decodable {
        var host: String?
        var port: Int?
        var tlsCert: String?
        var tlsKey: String?
        var clientCA: String?
        var plainHTTP: Bool?
        var postgresURL: String?
        var maxBodyBytes: Int?
        var maxBatchRows: Int?
        var maxConcurrentBatches: Int?
        var maxConcurrentBatchesPerDevice: Int?
        var retryAfterSeconds: Int?
        var databaseTimeoutSeconds: Int?
        var storeTimeoutSeconds: Int?
        var bodyTimeoutSeconds: Int?
        var idleTimeoutSeconds: Int?
        var handshakeTimeoutSeconds: Int?
        var maxConnections: Int?
        var maxConnectionsPerAddress: Int?
        var healthReportsKept: Int?
        var adminTokenFile: String?
        /// The job workers' settings (docs/NOTIFICATIONS.md, "The queue and the workers").
        var worker: WorkerSettings.File?
        /// Receivers, routes and defaults (docs/NOTIFICATIONS.md, "Routes and receivers").
        var notifications: NotificationSettings?
    }

    @Option(help: "JSON file with any of: host, port, tlsCert, tlsKey, clientCA, plainHTTP, postgresURL, maxBodyBytes, maxBatchRows, maxConcurrentBatches, maxConcurrentBatchesPerDevice, retryAfterSeconds, databaseTimeoutSeconds, storeTimeoutSeconds, bodyTimeoutSeconds, idleTimeoutSeconds, handshakeTimeoutSeconds, maxConnections, maxConnectionsPerAddress, healthReportsKept, adminTokenFile, worker (an object: concurrency, pollIntervalSeconds, leaseSeconds, heartbeatSeconds, rescueIntervalSeconds, retryBaseSeconds, retryCapSeconds, maxRetryAfterSeconds, shutdownGraceSeconds, finishedRetentionSeconds, statsRetentionSeconds, retentionIntervalSeconds, health), notifications (an object: receivers, routes, defaults)")
    var config: String?
    @Option(help: "Address to listen on (default 0.0.0.0).") var host: String?
    @Option(help: "Port to listen on (default 8443).") var port: Int?
    @Option(help: "Server certificate chain (PEM).") var tlsCert: String?
    @Option(help: "Server private key (PEM).") var tlsKey: String?
    @Option(help: "CA (PEM) that device certificates must chain to; turns on mutual TLS.") var clientCA: String?
    @Flag(help: "Serve plain HTTP (only behind a TLS-terminating proxy).") var plainHTTP = false
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Largest gzip body in bytes (default 4194304); larger ones get 413.") var maxBodyBytes: Int?
    @Option(help: "Batches stored at once (default 8); more get 503.") var maxConcurrentBatches: Int?
    @Option(help: "Retry-After seconds on 503 (default 5).") var retryAfterSeconds: Int?
    @Option(help: "Seconds to wait for a PostgreSQL connection before answering 503 (default 5).") var databaseTimeoutSeconds: Int?
    @Option(help: "File holding the read API's bearer token (mode 0600 or 0400); without it the read API is off.") var adminTokenFile: String?

    func run() async throws {
        let file = try config.map { try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: $0))) }
        let tls: FleetServerConfiguration.TLSFiles?
        if plainHTTP || file?.plainHTTP == true {
            tls = nil
        } else {
            guard let cert = tlsCert ?? file?.tlsCert, let key = tlsKey ?? file?.tlsKey else {
                throw ValidationError("give --tls-cert and --tls-key (or --plain-http behind a TLS proxy)")
            }
            tls = .init(certificateChain: cert, privateKey: key, clientCA: clientCA ?? file?.clientCA)
        }
        let url = try database.url(fallback: file?.postgresURL)
        var configuration = FleetServerConfiguration(
            host: host ?? file?.host ?? "0.0.0.0", port: port ?? file?.port ?? 8443, tls: tls, database: try .parse(url: url))
        if let value = maxBodyBytes ?? file?.maxBodyBytes { configuration.maxBodyBytes = value }
        if let value = file?.maxBatchRows { configuration.maxBatchRows = value }
        if let value = maxConcurrentBatches ?? file?.maxConcurrentBatches { configuration.maxConcurrentBatches = value }
        if let value = file?.maxConcurrentBatchesPerDevice { configuration.maxConcurrentBatchesPerDevice = value }
        if let value = retryAfterSeconds ?? file?.retryAfterSeconds { configuration.retryAfterSeconds = value }
        if let value = databaseTimeoutSeconds ?? file?.databaseTimeoutSeconds { configuration.databaseTimeout = .seconds(value) }
        if let value = file?.storeTimeoutSeconds { configuration.storeTimeout = .seconds(value) }
        if let value = file?.bodyTimeoutSeconds { configuration.bodyTimeout = .seconds(value) }
        if let value = file?.idleTimeoutSeconds { configuration.connections.idleTimeout = .seconds(value) }
        if let value = file?.handshakeTimeoutSeconds { configuration.connections.handshakeTimeout = .seconds(value) }
        if let value = file?.maxConnections { configuration.connections.maxConnections = value }
        if let value = file?.maxConnectionsPerAddress { configuration.connections.maxConnectionsPerAddress = value }
        if let value = file?.healthReportsKept { configuration.healthReportsKept = value }
        if let worker = file?.worker { configuration.worker.apply(worker) }
        if let value = file?.notifications { configuration.notifications = value }
        if let problem = configuration.validationError() { throw ValidationError(problem) }
        let notificationProblems = configuration.notifications.validationErrors()
        if !notificationProblems.isEmpty { throw ValidationError(notificationProblems.joined(separator: "\n")) }
        if let path = adminTokenFile ?? file?.adminTokenFile {
            configuration.adminTokenHash = TokenHash(of: try AdminToken.load(path: path))
        }
        var logger = Logger(label: "fleet-server")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        try await DatabaseCheck.login(url: url, logger: logger)
        let app = try FleetServer.makeApplication(configuration: configuration, logger: logger)
        try await app.runService()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending schema migrations and exit.")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        try await database.withStore { _ in }
        print("schema is current")
    }
}

struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Register and list devices.", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a device and print its token once; only its hash is kept.")
        @Argument(help: "Device name; the agent's deviceID must be the same.") var name: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let name = self.name
            let token = try await database.withStore { try await $0.addDevice(name: name) }
            print(token)
            FileHandle.standardError.write(Data("Install this token on \(name) (a 0600 file); it is not shown again.\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List devices with last contact and health.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let devices = try await database.withStore { try await $0.devices() }
            for device in devices {
                let seen = device.lastSeenMillis.map { Date(timeIntervalSince1970: Double($0) / 1000).formatted(.iso8601) } ?? "never"
                let health = device.lastHealth.map { "\($0.status.rawValue)\($0.reasons.isEmpty ? "" : " (\($0.reasons.joined(separator: "; ")))")" } ?? "-"
                print("\(device.name)\tlast seen \(seen)\t\(health)")
            }
        }
    }
}
