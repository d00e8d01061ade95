import EdgeTesting
import FleetServer
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// The fleet server in-process, over real TLS, against a throwaway PostgreSQL, with one
/// registered device. For server tests, end-to-end sync tests and the benchmark.
///
/// ```swift
/// try await ServerHarness.with { server in
///     // server.url, server.deviceToken, server.certificates.ca, server.database
/// }
/// ```
/// `stopServer()` / `startServer()` take the HTTPS server down and up on the same port
/// (an outage; PostgreSQL keeps running); `cluster.stop()` / `cluster.start()` do the
/// same to PostgreSQL.
public actor ServerHarness {
    public nonisolated let cluster: PostgresCluster
    public nonisolated let certificates: TestCertificates
    public nonisolated let port: Int
    public nonisolated let deviceName: String
    /// The device's bearer token, as `fleet-server devices add` printed it.
    public nonisolated let deviceToken: String
    /// Opens the read API.
    public nonisolated let adminToken = "admin-token-for-tests-0123456789"
    /// What the server logged at warning and above.
    public nonisolated let log = LogRecorder()
    /// A running client on the same database, for assertions.
    public nonisolated let database: PostgresClient
    public nonisolated var url: String { "https://127.0.0.1:\(port)" }

    private let configuration: FleetServerConfiguration
    private let databaseTask: Task<Void, Never>
    private var serverTask: Task<Void, any Error>?

    /// Starts everything, runs `body`, and tears everything down even if `body` throws.
    public static func with<T: Sendable>(
        deviceName: String = "reef-1",
        requireClientCertificate: Bool = false,
        durable: Bool = false,
        configure: @Sendable (inout FleetServerConfiguration) -> Void = { _ in },
        _ body: (ServerHarness) async throws -> T
    ) async throws -> T {
        let harness = try await start(deviceName: deviceName, requireClientCertificate: requireClientCertificate,
                                      durable: durable, configure: configure)
        do {
            let result = try await body(harness)
            await harness.shutdown()
            return result
        } catch {
            await harness.shutdown()
            throw error
        }
    }

    /// `requireClientCertificate` turns on mutual TLS with `certificates.clientCertificate`;
    /// `configure` adjusts the server configuration (limits, timeouts). `durable` keeps
    /// PostgreSQL's fsync on (benchmarks); tests run without it.
    public static func start(
        deviceName: String = "reef-1",
        requireClientCertificate: Bool = false,
        durable: Bool = false,
        configure: @Sendable (inout FleetServerConfiguration) -> Void = { _ in }
    ) async throws -> ServerHarness {
        let certificates = try await TestCertificates.generate()
        let cluster = try await PostgresCluster.start(durable: durable)
        let harness = try ServerHarness(cluster: cluster, certificates: certificates, deviceName: deviceName,
                                        requireClientCertificate: requireClientCertificate, configure: configure)
        do {
            try await harness.startServer()
            _ = try await harness.addDevice(deviceName, token: harness.deviceToken)
        } catch {
            await harness.shutdown()
            throw error
        }
        return harness
    }

    private init(cluster: PostgresCluster, certificates: TestCertificates, deviceName: String, requireClientCertificate: Bool,
                 configure: (inout FleetServerConfiguration) -> Void) throws {
        self.cluster = cluster
        self.certificates = certificates
        self.deviceName = deviceName
        self.deviceToken = DeviceToken.generate()
        self.port = try Processes.freePort()
        var configuration = FleetServerConfiguration(
            host: "127.0.0.1", port: port,
            tls: .init(certificateChain: certificates.serverCertificate, privateKey: certificates.serverKey,
                       clientCA: requireClientCertificate ? certificates.ca : nil),
            database: cluster.clientConfiguration, databaseTimeout: .seconds(2),
            adminTokenHash: TokenHash(of: adminToken))
        configure(&configuration)
        self.configuration = configuration
        let database = PostgresClient(configuration: cluster.clientConfiguration, backgroundLogger: Logger(label: "harness-db"))
        self.database = database
        databaseTask = Task { await database.run() }
    }

    /// Registers another device the way `devices add` does and returns its token.
    public func addDevice(_ name: String) async throws -> String {
        try await addDevice(name, token: DeviceToken.generate())
    }

    private func addDevice(_ name: String, token: String) async throws -> String {
        try await database.query("INSERT INTO devices (name, token_hash) VALUES (\(name), \(ByteBuffer(bytes: TokenHash(of: token).bytes)))")
        return token
    }

    /// Starts the HTTPS server (migrating the schema) and returns once it listens.
    public func startServer() async throws {
        precondition(serverTask == nil, "the server is already running")
        let recorder = log
        var logger = Logger(label: "fleet-server-under-test") { label in
            MultiplexLogHandler([StreamLogHandler.standardError(label: label), recorder.handler()])
        }
        logger.logLevel = .warning
        let listening = AsyncThrowingStream<Void, any Error>.makeStream()
        let application = try FleetServer.makeApplication(
            configuration: configuration, logger: logger,
            onServerRunning: { _ in listening.continuation.yield() })
        serverTask = Task {
            do {
                try await application.run()
                listening.continuation.finish()
            } catch {
                listening.continuation.finish(throwing: error)
                throw error
            }
        }
        for try await _ in listening.stream { return }
        throw Processes.Failure(command: "fleet server on port \(port)", status: 1, output: "exited before it listened")
    }

    /// Stops the HTTPS server; connections are refused until `startServer()`.
    public func stopServer() async {
        serverTask?.cancel()
        _ = await serverTask?.result
        serverTask = nil
    }

    public func shutdown() async {
        await stopServer()
        databaseTask.cancel()
        await databaseTask.value
        await cluster.destroy()
    }
}
