import AlertEngine
import ArgumentParser
import EdgeCore
import Foundation
import Readings
import Sync
import Wire

/// The daemon's latest health, or — when it is not running — what the database says, marked
/// unhealthy. Exit codes follow the monitoring-plugin convention: 0 healthy, 1 degraded,
/// 2 unhealthy.
///
/// Whether the daemon runs is asked of the kernel (`DaemonPresence`: the daemon's lock on
/// the data directory), not guessed from the report's age: a daemon that stopped a second
/// ago is reported stopped, and one that cannot rewrite its report (a full disk without a
/// runtime directory) is reported running with a stale report, never "not running".
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Health for people and scripts: exit 0 healthy, 1 degraded, 2 unhealthy.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    /// The daemon rewrites its health every 5 s; three missed rewrites make the report stale.
    static let staleAfterMillis: Int64 = 15_000

    func run() async throws {
        let config = try global.load()
        let paths = DataPaths(config)
        let clock = SystemDeviceClock()
        // Read-only: status never creates, migrates or moves anything, whoever runs it.
        let database = try paths.openReadOnly()
        let store = ReadingQueries(database: database, bootID: nil)
        let alerts = try AlertStore(writer: database.writer)
        let syncStatus = config.sync.url == nil ? nil : try? SyncStatus.read(database: database, readings: store, events: AlertEventFeed(store: alerts))
        let now = clock.now()
        let firing = try alerts.active().filter { $0.state == .firing }.count

        let report = try Self.assess(
            saved: try? HealthFile.read(from: paths.health), running: DaemonPresence.isRunning(directory: paths.directory),
            nowMillis: now.unixMillis, firingAlerts: firing
        ) {
            try HealthMonitor(clock: clock, syncConfigured: config.sync.url != nil, notify: config.notify)
                .refresh(agent: AgentHealth(version: EdgeAgent.version, startedAt: now, sensors: [], firingAlerts: firing),
                         stores: StoreQueries(database: database, readings: store, alerts: alerts))
        }

        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            Console.write(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
        } else {
            Console.write(Self.render(report, sync: syncStatus, syncURL: config.sync.redactedURL))
        }
        throw ExitCode(Self.exitCode(report.status))
    }

    /// The report to show. `running` is nil when the kernel cannot be asked (the data
    /// directory cannot be opened); the report's age decides then. `current` builds a report
    /// from the database for when the daemon's own cannot be shown; `firingAlerts` comes from
    /// the alert tables, which the daemon keeps even when it cannot rewrite its report.
    static func assess(saved: HealthReport?, running: Bool?, nowMillis: Int64, firingAlerts: Int,
                       current: () throws -> HealthReport) throws -> HealthReport {
        let age = saved.map { (nowMillis - $0.takenAtMillis) / 1000 }
        let fresh = saved.map { nowMillis - $0.takenAtMillis <= staleAfterMillis } ?? false
        let reportAge = age.map { "its last health report is \($0) s old" } ?? "it has written no health report"
        switch running {
        case true?:
            if let saved, fresh { return saved }
            var report = try saved ?? current()
            report.firingAlerts = firingAlerts
            report.reasons.insert("the agent is running but \(reportAge): it cannot write its health report (full or read-only disk?); see its log", at: 0)
            if report.status == .healthy { report.status = .degraded }
            return report
        case false?:
            // What it knew when it stopped, labelled as such; alerts from the tables, as now.
            var report = try saved ?? current()
            report.status = .unhealthy
            report.firingAlerts = firingAlerts
            report.reasons.insert("the agent is stopped (\(reportAge))" + (saved == nil ? "" : "; the rest is from that report"), at: 0)
            return report
        case nil:
            if let saved, fresh { return saved }
            var report = try current()
            report.status = .unhealthy
            report.reasons.insert("the agent is not running (\(reportAge))", at: 0)
            return report
        }
    }

    static func exitCode(_ status: HealthReport.Status) -> Int32 {
        switch status {
        case .healthy: 0
        case .degraded: 1
        case .unhealthy: 2
        }
    }

    static func render(_ r: HealthReport, sync: SyncStatus?, syncURL: String?) -> String {
        var out = "status:    \(r.status.rawValue.uppercased())\n"
        for reason in r.reasons { out += "           - \(reason)\n" }
        out += "version:   \(r.version)   uptime: \(DurationText.format(.seconds(Int64(r.uptimeSeconds))))   clock: \(r.clockSynchronized ? "synchronised" : "NOT synchronised")\n"
        out += "database:  \(r.databaseBytes / 1024) KiB   backlog: \(r.backlogRows) readings"
        if let oldest = r.backlogOldestMillis { out += " (oldest \(TimeArgument.iso(oldest)))" }
        out += "\n"
        let dropped = r.drops.reduce(Int64(0)) { $0 + $1.count }
        out += "dropped:   \(dropped) readings" + (r.drops.isEmpty ? "" : " (" + r.drops.map { "\($0.sensorID) \($0.reason) \($0.count)" }.joined(separator: ", ") + ")") + "\n"
        out += "alerts:    \(r.firingAlerts) firing"
        if let events = r.eventBacklogRows { out += "   \(events) alert events waiting to sync" }
        out += "\n"
        if let syncURL {
            out += "sync:      \(syncURL)"
            if let sync {
                out += "   acked through #\(sync.readings.ackedThrough)"
                out += sync.lastSuccessMillis.map { "   last success \(TimeArgument.iso($0))" } ?? "   never synced"
                if let error = sync.lastError { out += "\n           last error: \(error)" }
                if !sync.deadLetters.isEmpty { out += "\n           \(sync.deadLetters.count) quarantined batches (edge-agent sync --requeue sends them again)" }
            }
            out += "\n"
        } else {
            out += "sync:      off (no sync.url in the config)\n"
        }
        out += renderNotify(r.notify)
        out += "process:   RSS \(r.rssBytes / 1024) KiB   CPU \(String(format: "%.2f", r.cpuPercent)) %\n"
        if !r.sensors.isEmpty {
            out += "\n" + SensorsCommand.table(r.sensors, latest: [:])
        }
        return out
    }
}

extension StatusCommand {
    /// One line per notify target: what reached the service, what waits, what was refused.
    static func renderNotify(_ targets: [NotifyTargetHealth]?) -> String {
        guard let targets else { return "notify:    off (no notify: targets in the config)\n" }
        guard !targets.isEmpty else { return "notify:    not started yet\n" }
        return targets.enumerated().map { index, t in
            let oldest = t.oldestPendingAgeSeconds.map { " (oldest \(DurationText.format(.seconds(Int64($0)))))" } ?? ""
            let dead = t.dead == 0 ? "" : "   \(NotifyTargetReport.count(t.dead, "dead letter")) (edge-agent notify status)"
            return (index == 0 ? "notify:    " : "           ")
                + "\(t.target): sent \(t.sent), retried \(t.retried), pending \(t.pending)\(oldest)\(dead)\n"
        }.joined()
    }
}

struct SensorsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sensors", abstract: "Each sensor with its last value, age, error count and state.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "table, csv, json or ndjson.") var format: OutputFormat = .table

    func run() async throws {
        let config = try global.load()
        let paths = DataPaths(config)
        let store = ReadingQueries(database: try paths.openReadOnly(), bootID: nil)
        let latest = Dictionary(try store.latest().map { ($0.sensorID, $0) }, uniquingKeysWith: { a, _ in a })
        guard let report = try? HealthFile.read(from: paths.health) else {
            throw CLIError("no health report in \(paths.directory): is `edge-agent run` running with this data directory?")
        }
        Console.write(Self.table(report.sensors, latest: latest, format: format))
    }

    static func table(_ sensors: [SensorHealth], latest: [String: Reading], format: OutputFormat = .table) -> String {
        let rows = sensors.map { s -> Row in
            // A multi-channel sensor's readings are `id.channel`: show each channel's last value.
            let values = latest.filter { $0.key == s.id || $0.key.hasPrefix(s.id + ".") }.sorted { $0.key < $1.key }
                .map { "\($0.key == s.id ? "" : String($0.key.dropFirst(s.id.count + 1)) + "=")\(String(format: "%.3f", $0.value.value)) \($0.value.unit)" }
                .joined(separator: ", ")
            return Row([("sensor", .text(s.id)), ("state", .text(s.state.rawValue)),
                        ("last", values.isEmpty ? .null : .text(values)),
                        ("age_s", s.lastReadingAgeSeconds.map { .number($0, decimals: 1) } ?? .null),
                        ("errors", .integer(Int64(s.errorCount))), ("last_error", s.lastError.map(Cell.text) ?? .null)])
        }
        return RowPrinter(format: format, columns: ["sensor", "state", "last", "age_s", "errors", "last_error"]).render(rows)
    }
}
