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
        subcommands: [Serve.self, CheckConfig.self, Migrate.self, Devices.self])
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

/// The flags `serve` and `check-config` share; each wins over the settings file.
struct ServeOptions: ParsableArguments {
    @Option(help: "JSON settings file (docs/PROTOCOL.md lists the keys; docs/NOTIFICATIONS.md the worker and notifications objects).")
    var config: String?
    @Option(help: "Address to listen on (default 0.0.0.0).") var host: String?
    @Option(help: "Port to listen on (default 8443).") var port: Int?
    @Option(help: "Server certificate chain (PEM).") var tlsCert: String?
    @Option(help: "Server private key (PEM).") var tlsKey: String?
    @Option(help: "CA (PEM) that device certificates must chain to; turns on mutual TLS.") var clientCA: String?
    @Flag(help: "Serve plain HTTP (only behind a TLS-terminating proxy).") var plainHTTP = false
    @Option(name: .customLong("postgres-url"),
            help: "postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]; default: the file's postgresURL, then $FLEET_POSTGRES_URL")
    var postgresURL: String?
    @Option(help: "Largest gzip body in bytes (default 4194304); larger ones get 413.") var maxBodyBytes: Int?
    @Option(help: "Batches stored at once (default 8); more get 503.") var maxConcurrentBatches: Int?
    @Option(help: "Retry-After seconds on 503 (default 5).") var retryAfterSeconds: Int?
    @Option(help: "Seconds to wait for a PostgreSQL connection before answering 503 (default 5).") var databaseTimeoutSeconds: Int?
    @Option(help: "File holding the admin API's bearer token (mode 0600 or 0400); without it the admin API and the dashboard are off.") var adminTokenFile: String?
    @Option(help: "File holding /metrics' bearer token (mode 0600 or 0400); without it /metrics is off.") var metricsTokenFile: String?
    @Option(help: "File of 'name token' lines (mode 0600) for operators who may sign in to the dashboard.") var operatorTokensFile: String?

    /// The settings with every problem in them (`ServerSettings.resolve`).
    func resolve() -> ServerSettings {
        var flags = ServerSettings.Flags()
        flags.host = host
        flags.port = port
        flags.tlsCert = tlsCert
        flags.tlsKey = tlsKey
        flags.clientCA = clientCA
        flags.plainHTTP = plainHTTP
        flags.postgresURL = postgresURL
        flags.maxBodyBytes = maxBodyBytes
        flags.maxConcurrentBatches = maxConcurrentBatches
        flags.retryAfterSeconds = retryAfterSeconds
        flags.databaseTimeoutSeconds = databaseTimeoutSeconds
        flags.adminTokenFile = adminTokenFile
        flags.metricsTokenFile = metricsTokenFile
        flags.operatorTokensFile = operatorTokensFile
        return ServerSettings.resolve(file: config, flags: flags)
    }
}

/// EX_CONFIG: what sysexits.h and systemd's documentation call a configuration error.
let exitConfigurationError: Int32 = 78

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the configuration (refusing to start with any problem), apply migrations, then serve the sync, admin and worker APIs and run the workers.")

    @OptionGroup var options: ServeOptions

    func run() async throws {
        let settings = options.resolve()
        guard let configuration = settings.configuration, let url = settings.postgresURL, settings.problems.isEmpty else {
            FileHandle.standardError.write(Data((settings.problems.joined(separator: "\n") + "\nnot started: fix the settings above (`fleet-server check-config` lists them)\n").utf8))
            throw ExitCode(exitConfigurationError)
        }
        var logger = Logger(label: "fleet-server")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        try await DatabaseCheck.login(url: url, logger: logger)
        let app = try FleetServer.makeApplication(configuration: configuration, logger: logger)
        try await app.runService()
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check everything `serve` would be given — the settings file, flags, TLS, admin token and credential files, receivers and routes — print every problem and exit 78 if any; with --connect also log in to PostgreSQL.")

    @OptionGroup var options: ServeOptions
    @Flag(help: "Also log in to PostgreSQL with the URL.") var connect = false

    func run() async throws {
        let settings = options.resolve()
        var problems = settings.problems
        if connect, problems.isEmpty, let url = settings.postgresURL {
            do { try await DatabaseCheck.login(url: url, logger: Logger(label: "fleet-server")) } catch {
                problems.append("postgresURL: \(error)")
            }
        }
        guard problems.isEmpty, let configuration = settings.configuration else {
            FileHandle.standardError.write(Data((problems.joined(separator: "\n") + "\n").utf8))
            throw ExitCode(exitConfigurationError)
        }
        let notifications = configuration.notifications
        print("\(options.config ?? "command line"): ok — \(configuration.tls == nil ? "plain HTTP" : "HTTPS") on \(configuration.host):\(configuration.port), "
            + "admin API \(configuration.adminTokenHash == nil ? "off" : "on"), \(configuration.worker.concurrency) worker slots, "
            + "\(notifications.receivers.count) receivers, \(notifications.routes.count) routes")
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
    static let configuration = CommandConfiguration(abstract: "Register and list devices.", subcommands: [Add.self, List.self, Label.self, OfflineAfter.self])

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
