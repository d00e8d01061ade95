import EdgeTesting
import Foundation
import PostgresNIO

/// A throwaway PostgreSQL server: `initdb` into a directory under /tmp, `postgres` on a
/// free 127.0.0.1 port with trust authentication, one database. The server can be
/// stopped and started again on the same port and data (an outage); `destroy()` (or
/// deinit) stops it and deletes everything.
///
/// Needs the PostgreSQL server binaries (Debian: `apt-get install postgresql`); without
/// them `start` throws, so tests fail rather than skip. As root, the server runs as the
/// `postgres` account, because initdb and postgres refuse to run as root.
public final class PostgresCluster: Sendable {
    public let directory: String
    public let port: Int
    public let database: String
    public let binDirectory: String

    public var dataDirectory: String { directory + "/data" }
    public var url: String { "postgres://postgres@127.0.0.1:\(port)/\(database)?sslmode=disable" }
    public var clientConfiguration: PostgresClient.Configuration {
        PostgresClient.Configuration(host: "127.0.0.1", port: port, username: "postgres", password: nil,
                                     database: database, tls: .disable)
    }

    /// Creates, starts and creates `database` in a new cluster. `durable: false` turns
    /// fsync off, which is right for correctness tests and wrong for benchmarks.
    public static func start(database: String = "fleet", durable: Bool = false) async throws -> PostgresCluster {
        let cluster = try PostgresCluster(database: database, durable: durable)
        try await cluster.initialize()
        try await cluster.start()
        try await Processes.run(cluster.binDirectory + "/createdb",
                                ["-h", "127.0.0.1", "-p", String(cluster.port), "-U", "postgres", database])
        return cluster
    }

    private let durable: Bool

    private init(database: String, durable: Bool) throws {
        binDirectory = try Self.findBinDirectory()
        directory = "/tmp/reef-pg-\(UUID().uuidString.prefix(8))"
        port = try Processes.freePort()
        self.database = database
        self.durable = durable
    }

    private func initialize() async throws {
        try FileManager.default.createDirectory(atPath: directory + "/socket", withIntermediateDirectories: true)
        if geteuid() == 0 {
            try await Processes.run("/bin/chown", ["-R", "postgres:postgres", directory])
        }
        try await Processes.run(binDirectory + "/initdb", [
            "-D", dataDirectory, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync", "--no-instructions",
        ], as: "postgres")
    }

    /// Starts the server and waits until it accepts connections.
    public func start() async throws {
        var options = "-p \(port) -k \(directory)/socket -c listen_addresses=127.0.0.1"
        if !durable { options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off" }
        try await Processes.run(binDirectory + "/pg_ctl", [
            "-D", dataDirectory, "-l", directory + "/server.log", "-o", options, "-w", "-t", "120", "start",
        ], as: "postgres")
    }

    /// Creates a login role that must give `password` over TCP (the cluster trusts every
    /// other login) and may create tables, for tests of what a wrong password does.
    public func addPasswordRole(_ role: String, password: String) async throws {
        try await Processes.run(binDirectory + "/psql", [
            "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1",
            "-c", "CREATE ROLE \"\(role)\" LOGIN PASSWORD '\(password)'", "-c", "GRANT ALL ON SCHEMA public TO \"\(role)\"",
        ])
        let hba = dataDirectory + "/pg_hba.conf"
        let rules = try String(contentsOfFile: hba, encoding: .utf8)
        try ("host all \(role) 127.0.0.1/32 scram-sha-256\n" + rules).write(toFile: hba, atomically: false, encoding: .utf8)
        try await Processes.run(binDirectory + "/pg_ctl", ["-D", dataDirectory, "reload"], as: "postgres")
    }

    /// Fast shutdown: clients are disconnected, data stays for `start()`.
    public func stop() async throws {
        try await Processes.run(binDirectory + "/pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "stop"], as: "postgres")
    }

    /// Stops the server if it runs and deletes the directory.
    public func destroy() async {
        _ = try? await Processes.run(binDirectory + "/pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"], as: "postgres")
        try? FileManager.default.removeItem(atPath: directory)
    }

    public static func findBinDirectory() throws -> String {
        var candidates: [String] = []
        let pgConfig = Process()
        pgConfig.executableURL = URL(fileURLWithPath: "/usr/bin/pg_config")
        pgConfig.arguments = ["--bindir"]
        let pipe = Pipe()
        pgConfig.standardOutput = pipe
        pgConfig.standardError = FileHandle.nullDevice
        if (try? pgConfig.run()) != nil {
            pgConfig.waitUntilExit()
            candidates.append(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        candidates += versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }.map { "/usr/lib/postgresql/\($0)/bin" }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }) else {
            throw Processes.Failure(command: "find initdb", status: 1, output: """
                PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found via pg_config --bindir or \
                /usr/lib/postgresql/*/bin; install them (Debian: apt-get install postgresql)
                """)
        }
        return found
    }
}
