import ArgumentParser
import EdgeCore
import Foundation
import Logging
import Readings
import Sync
import AlertEngine
import Wire

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Push everything to the fleet server now (--once), or re-queue quarantined batches (--requeue).")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Send the whole backlog now, with progress, and exit.") var once = false
    @Flag(help: "Send quarantined batches again on the next sync.") var requeue = false

    func run() async throws {
        guard once || requeue else { throw ValidationError("give --once or --requeue") }
        let config = try global.load()
        guard config.sync.url != nil || !config.sync.problems.isEmpty else { throw CLIError("no sync.url in \(config.source): nothing to sync to") }
        let clock = SystemDeviceClock()
        let database = try DataPaths(config).openExisting()
        let readings = ReadingQueries(database: database, bootID: clock.bootID)
        let alerts = try AlertStore(writer: database.writer)
        // A one-shot sync reports no sensor state (the daemon owns that) and says who sent it.
        let health = HealthMonitor(clock: clock, syncConfigured: true)
        try health.refresh(agent: AgentHealth(version: EdgeAgent.version, startedAt: clock.now(), sensors: [], firingAlerts: 0,
                                              problems: ["sent by `edge-agent sync --once`, not the daemon"]),
                           stores: StoreQueries(database: database, readings: readings, alerts: alerts))
        guard let engine = try SyncSetup.engine(config: config, database: database, readings: readings, alerts: alerts,
                                                health: health, clock: clock, logger: Logger(label: "edge-agent.sync")) else { return }
        if requeue {
            let count = try await engine.requeueDeadLetters()
            Console.write("re-queued \(count) quarantined batches\n")
        }
        if once {
            let result = try await engine.syncOnce { progress in
                Console.writeError("\rsent \(progress.rowsSent) rows, \(progress.rowsRemaining) to go, \(progress.quarantined) quarantined")
            }
            Console.writeError("\n")
            Console.write("synced: \(result.rowsSent) rows sent, \(result.rowsRemaining) remaining, \(result.quarantined) quarantined\n")
        }
    }
}
