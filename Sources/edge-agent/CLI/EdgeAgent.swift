import ArgumentParser
import EdgeCore
import Foundation
import Readings

/// One executable for the systemd daemon and for the person at the device.
@main
struct EdgeAgent: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "edge-agent",
        abstract: "reef-edge agent: polls sensors, stores readings, raises alerts, syncs to the fleet server.",
        version: version,
        subcommands: [
            RunCommand.self, ReadingsCommand.self, SensorsCommand.self, StatusCommand.self,
            AlertsCommand.self, MaintenanceCommand.self, SyncCommand.self, CheckConfigCommand.self,
            FailsafeCommand.self, StorageCommand.self, NotifyCommand.self,
            CaptureCommand.self,
            CalibrateCommand.self,
        ]
    )
}

/// Options every subcommand takes, so `--config` and `--data-dir` mean the same everywhere.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Agent config file (default: $EDGE_AGENT_CONFIG, then /etc/edge-agent/agent.yaml, then built-in defaults).")
    var config: String?

    @Option(name: .long, help: "Data directory holding the database (overrides the config).")
    var dataDir: String?

    func load() throws -> AgentConfig {
        do {
            var loaded = try AgentConfig.load(path: config)
            if let dataDir { loaded.dataDirectory = dataDir }
            return loaded
        } catch {
            throw CLIError(error.description)
        }
    }
}

/// Where the agent keeps its files inside the data directory.
struct DataPaths: Sendable {
    let directory: String
    var database: String { directory + "/edge-agent.sqlite" }
    /// The daemon's latest health, rewritten every few seconds for `status` and `sensors`.
    var health: String { directory + "/health.json" }
    /// Databases the daemon moved aside as damaged, and their acknowledgement (`storage ack`).
    var quarantineLog: String { directory + "/quarantine.log" }

    init(_ config: AgentConfig) { directory = config.dataDirectory }

    /// For commands that write (alert acknowledgements, `sync --once`). The CLI never
    /// creates a database, nor moves a damaged one aside: that is the daemon's, which runs
    /// as the service's user.
    func openExisting() throws -> LocalDatabase {
        guard FileManager.default.fileExists(atPath: database) else {
            throw CLIError(LocalDatabaseError.missing(path: database).description)
        }
        do {
            return try LocalDatabase.open(path: database, recover: false)
        } catch let error as LocalDatabaseError {
            throw CLIError(error.description)
        }
    }

    /// For commands that only read: nothing is created, migrated, inserted or moved aside,
    /// so running them as root never leaves a file the service cannot open.
    func openReadOnly() throws -> LocalDatabase {
        try Self.openReadOnly(path: database)
    }

    static func openReadOnly(path: String) throws -> LocalDatabase {
        do {
            return try LocalDatabase.openReadOnly(path: path)
        } catch let error as LocalDatabaseError {
            throw CLIError(error.description)
        }
    }

    /// Runs a command's reads, turning a damaged page met on the way into the same clear
    /// error a damaged file gets at open.
    static func reading<T>(_ database: LocalDatabase, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch where LocalDatabase.isCorruption(error) {
            throw CLIError(LocalDatabaseError.corrupt(path: database.path, error: error).description)
        }
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
