import EdgeCore
import Notify
import NotifyDelivery
import Readings
import Sync
import Wire

/// Everything one health report is decided from, gathered once by the `HealthMonitor`.
struct HealthFacts: Sendable {
    var agent: AgentHealth
    var now: DeviceTime
    var bootID: String
    /// Nil while storage is down: no store figures, and the agent's critical problem says why.
    var store: StoreFacts?
    /// Nil when the device runs without a fleet server.
    var sync: SyncStatus?
    /// Each notification target's delivery; nil when none is configured.
    var notify: [NotifyStatus]? = nil
    /// agent.yaml `notify:` problems, each a target left out.
    var notifyProblems: [String] = []
    var rssBytes: Int64
    var cpuPercent: Double

    struct StoreFacts: Sendable {
        var databaseBytes: Int64
        /// Readings the server does not have yet: sync's own count when sync runs, else every row.
        var backlogRows: Int
        var backlogOldestMillis: Int64?
        var drops: [DropCount]
        /// Readings held back from sync until the clock is synchronised, if any.
        var clockHold: ClockHold?
    }
}

/// Decides healthy / degraded / unhealthy with a reason for each finding: a pure function of
/// `HealthFacts`, so the rules read (and are tested) as a table.
///
/// - unhealthy: every sensor failing or stale, or a critical problem (storage down, a
///   quarantined database not acknowledged);
/// - degraded: any other finding — a failing sensor, an agent problem, sync failing (at once:
///   a wrong CA or token fails every attempt), readings held for the clock, readings dropped
///   before the server had them, a backlog older than `staleBacklog`, quarantined batches,
///   a notify target left out for a config problem, a notify target's dead letters, a
///   notify target failing for longer than `notifyFailing`.
enum HealthAssessment {
    /// How long a notify target may fail (its oldest waiting event this old, its last attempt
    /// an error) before the device is degraded: longer than a few backoff rounds (at most
    /// 10 min each), short enough that a dead phone channel shows before the next incident.
    static let notifyFailing = Duration.seconds(15 * 60)

    static func report(_ facts: HealthFacts, staleBacklog: Duration) -> HealthReport {
        let agent = facts.agent
        let now = facts.now
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
        let status = facts.sync
        if let status, status.consecutiveFailures > 0, let error = status.lastError {
            let since = status.lastSuccessMillis.map { "last success \((now.unixMillis - $0) / 1000) s ago" } ?? "never synced"
            reasons.append("sync failing (\(status.consecutiveFailures) attempts in a row, \(since)): \(error)")
        }
        if let store = facts.store {
            if status != nil, let hold = store.clockHold { reasons.append(hold.reason) }
            let lost = store.drops.filter { $0.reason == .budgetUnsynced }.reduce(0) { $0 + $1.count }
            if lost > 0 { reasons.append("\(lost) readings were dropped for space before the server had them") }
            if status != nil, let oldest = store.backlogOldestMillis, now.unixMillis - oldest > staleBacklog.saturatingMillis {
                reasons.append("\(store.backlogRows) readings waiting to sync, the oldest \((now.unixMillis - oldest) / 60_000) min old")
            }
        }
        let deadLetters = status?.deadLetters.count ?? 0
        if deadLetters > 0 { reasons.append("\(deadLetters) batches quarantined; see `edge-agent status`") }
        reasons += facts.notifyProblems.map { "a notify target is left out: \($0)" }
        reasons += (facts.notify ?? []).flatMap(notifyReasons)
        if level == .healthy && !reasons.isEmpty { level = .degraded }

        return HealthReport(
            takenAtMillis: now.unixMillis, bootID: facts.bootID, version: agent.version,
            uptimeSeconds: Double(now.bootNanos &- agent.startedAt.bootNanos) / 1e9,
            status: level, reasons: reasons, clockSynchronized: now.synchronized, sensors: agent.sensors,
            databaseBytes: facts.store?.databaseBytes ?? 0, backlogRows: facts.store?.backlogRows ?? 0,
            backlogOldestMillis: facts.store?.backlogOldestMillis,
            drops: (facts.store?.drops ?? []).map {
                DropSummary(sensorID: $0.sensorID, reason: $0.reason.rawValue, count: $0.count,
                            firstMillis: $0.firstMillis, lastMillis: $0.lastMillis)
            },
            deadLetteredBatches: deadLetters, lastSyncMillis: status?.lastSuccessMillis,
            rssBytes: facts.rssBytes, cpuPercent: facts.cpuPercent, firingAlerts: agent.firingAlerts,
            eventBacklogRows: status?.events.backlogRows,
            notify: facts.notify?.map {
                NotifyTargetHealth(target: $0.target, sent: $0.messagesSent, retried: $0.retries, dead: $0.openDeadLetters,
                                   pending: $0.pending, oldestPendingAgeSeconds: $0.oldestPendingAge.map { Double($0.saturatingMillis) / 1_000 })
            })
    }

    /// Why a target's alerts are not reaching its person, one sentence each.
    static func notifyReasons(_ status: NotifyStatus) -> [String] {
        var reasons: [String] = []
        if status.openDeadLetters > 0 {
            let count = status.openDeadLetters
            reasons.append("notify target '\(status.target)': \(count) message\(count == 1 ? "" : "s") refused by the service; "
                + "see `edge-agent notify status`, then `edge-agent notify requeue \(status.target)`")
        }
        if let error = status.lastError, let age = status.oldestPendingAge, age > notifyFailing {
            reasons.append("notify target '\(status.target)' failing for \(age.saturatingMillis / 60_000) min "
                + "(\(status.pending) events waiting): \(error)")
        }
        return reasons
    }
}
