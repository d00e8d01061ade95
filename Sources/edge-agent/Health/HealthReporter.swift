#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EdgeCore
import Foundation
import Readings
import Sync
import Synchronization
import Wire

/// What only the agent knows about its health; `HealthReporter` adds the rest (backlog, last
/// sync, dead letters, drops, database size, process RSS and CPU) and decides the status.
public struct AgentHealth: Sendable, Hashable {
    public var version: String
    /// When the agent process started, for uptime.
    public var startedAt: DeviceTime
    public var sensors: [SensorHealth]
    public var firingAlerts: Int
    /// Conditions the agent wants the fleet to see, one short sentence each
    /// ("sync disabled: …"); each makes the device degraded.
    public var problems: [String]
    /// Conditions that put readings at risk or out of sight ("storage is down: …", a
    /// quarantined database not yet acknowledged); each makes the device unhealthy.
    public var criticalProblems: [String]

    public init(version: String, startedAt: DeviceTime, sensors: [SensorHealth], firingAlerts: Int, problems: [String] = [],
                criticalProblems: [String] = []) {
        self.version = version
        self.startedAt = startedAt
        self.sensors = sensors
        self.firingAlerts = firingAlerts
        self.problems = problems
        self.criticalProblems = criticalProblems
    }
}

/// The process's resident memory and CPU time, from `/proc/self`.
struct ProcessSample: Sendable, Hashable {
    var rssBytes: Int64
    /// User plus system time, in clock ticks.
    var cpuTicks: Int64
    var bootNanos: UInt64

    /// Nil where `/proc` is not available (not Linux).
    static func read(at bootNanos: UInt64) -> ProcessSample? {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8) else { return nil }
        return parse(statm: statm, stat: stat, pageSize: Int64(sysconf(Int32(_SC_PAGESIZE))), bootNanos: bootNanos)
    }

    /// `statm`'s second field is resident pages. In `stat`, the command name may hold spaces
    /// and parentheses, so fields are counted after its last `)`: utime and stime are the
    /// 14th and 15th fields of the line, the 12th and 13th after the name.
    static func parse(statm: String, stat: String, pageSize: Int64, bootNanos: UInt64) -> ProcessSample? {
        let pages = statm.split(separator: " ")
        guard pages.count >= 2, let resident = Int64(pages[1]),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count >= 13, let user = Int64(fields[11]), let system = Int64(fields[12]) else { return nil }
        return ProcessSample(rssBytes: resident * pageSize, cpuTicks: user + system, bootNanos: bootNanos)
    }

    /// Percent of one core used between `earlier` and this sample.
    func cpuPercent(since earlier: ProcessSample, ticksPerSecond: Int64) -> Double {
        guard bootNanos > earlier.bootNanos, ticksPerSecond > 0 else { return 0 }
        let seconds = Double(bootNanos - earlier.bootNanos) / 1e9
        return Double(cpuTicks - earlier.cpuTicks) / Double(ticksPerSecond) / seconds * 100
    }

    static let ticksPerSecond = Int64(sysconf(Int32(_SC_CLK_TCK)))
}

/// Builds the device's `HealthReport`: the agent's part (`AgentHealth`), plus the store,
/// sync state and process figures, and decides healthy / degraded / unhealthy with reasons.
/// The daemon writes it to disk for `edge-agent status`, online or not, and hands it to Sync
/// through `HealthFeed` to attach to batches.
public final class HealthReporter: Sendable {
    private let database: LocalDatabase
    private let readings: ReadingQueries
    private let clock: any DeviceClock
    private let staleBacklog: Duration
    private let clockHold: Duration
    private let lastSample = Mutex<ProcessSample?>(nil)

    public init(database: LocalDatabase, readings: ReadingQueries, clock: any DeviceClock, staleBacklog: Duration = .seconds(3_600),
                clockHold: Duration = .seconds(600)) {
        self.database = database
        self.readings = readings
        self.clock = clock
        self.staleBacklog = staleBacklog
        self.clockHold = clockHold
    }

    /// `sync` is nil when the device runs without a server: then every reading counts as backlog.
    public func report(agent: AgentHealth, now: DeviceTime, sync status: SyncStatus?) throws -> HealthReport {
        let position = status.map { max($0.readings.ackedThrough, $0.readings.skippedThrough) } ?? 0
        let backlog = try readings.backlog(afterSequence: position)
        let drops = try readings.dropCounts()
        let sample = ProcessSample.read(at: now.bootNanos)
        let previous = lastSample.withLock { last -> ProcessSample? in
            defer { last = sample }
            return last
        }
        let cpu = sample.flatMap { current in previous.map { current.cpuPercent(since: $0, ticksPerSecond: ProcessSample.ticksPerSecond) } } ?? 0

        var reasons: [String] = []
        var level = HealthReport.Status.healthy
        let failing = agent.sensors.filter { $0.state == .failing || $0.state == .stale }
        if !agent.sensors.isEmpty && failing.count == agent.sensors.count {
            level = .unhealthy
            reasons.append("all \(agent.sensors.count) sensors are failing or stale")
        } else {
            for sensor in failing {
                reasons.append("sensor \(sensor.id) is \(sensor.state.rawValue)\(sensor.lastError.map { ": \($0)" } ?? "")")
            }
        }
        if !agent.criticalProblems.isEmpty { level = .unhealthy }
        reasons += agent.criticalProblems + agent.problems
        if let status, status.consecutiveFailures > 0, let error = status.lastError {
            // At once, not when the backlog grows old: a wrong CA, token or device id fails
            // every attempt, and nobody looks at a device that says it is healthy.
            let since = status.lastSuccessMillis.map { "last success \((now.unixMillis - $0) / 1000) s ago" } ?? "never synced"
            reasons.append("sync failing (\(status.consecutiveFailures) attempts in a row, \(since)): \(error)")
        }
        if status != nil, let hold = try ClockHold.current(readings: readings, position: position, now: now, hold: clockHold) {
            reasons.append(hold.reason)
        }
        let lost = drops.filter { $0.reason == .budgetUnsynced }.reduce(0) { $0 + $1.count }
        if lost > 0 { reasons.append("\(lost) readings were dropped for space before the server had them") }
        if status != nil, let oldest = backlog.oldestMillis, now.unixMillis - oldest > staleBacklog.saturatingMillis {
            reasons.append("\(backlog.count) readings waiting to sync, the oldest \((now.unixMillis - oldest) / 60_000) min old")
        }
        let deadLetters = status?.deadLetters.count ?? 0
        if deadLetters > 0 { reasons.append("\(deadLetters) batches quarantined; see `edge-agent status`") }
        if level == .healthy && !reasons.isEmpty { level = .degraded }

        return HealthReport(
            takenAtMillis: now.unixMillis, bootID: clock.bootID, version: agent.version,
            uptimeSeconds: Double(now.bootNanos &- agent.startedAt.bootNanos) / 1e9,
            status: level, reasons: reasons, clockSynchronized: now.synchronized, sensors: agent.sensors,
            databaseBytes: database.bytesOnDisk(), backlogRows: backlog.count, backlogOldestMillis: backlog.oldestMillis,
            drops: drops.map {
                DropSummary(sensorID: $0.sensorID, reason: $0.reason.rawValue, count: $0.count,
                            firstMillis: $0.firstMillis, lastMillis: $0.lastMillis)
            },
            deadLetteredBatches: deadLetters, lastSyncMillis: status?.lastSuccessMillis,
            rssBytes: sample?.rssBytes ?? 0, cpuPercent: cpu, firingAlerts: agent.firingAlerts,
            eventBacklogRows: status?.events.backlogRows)
    }
}
