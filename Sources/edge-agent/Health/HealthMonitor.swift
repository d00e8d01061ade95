import AlertEngine
import EdgeCore
import Notify
import NotifyDelivery
import Readings
import Sync
import Synchronization
import Wire

/// The one place the device's `HealthReport` is built. The daemon owns one and calls `refresh`
/// on its housekeeping timer with what only it knows (`AgentHealth`); the monitor adds the
/// store's, sync's and the process's figures, lets `HealthAssessment` decide the status, and
/// keeps the result. The health file, `edge-agent status` and Sync all read that report:
/// Sync through `HealthFeed`, without calling back into the daemon.
///
/// CPU is measured over one window, between consecutive refreshes; the readings backlog is
/// counted once (sync's own count when sync is configured).
final class HealthMonitor: HealthFeed {
    private let clock: any DeviceClock
    private let syncConfigured: Bool
    private let clockHold: Duration
    private let staleBacklog: Duration
    /// agent.yaml's notify section: the targets whose delivery the report counts, and the
    /// problems that left a target out.
    private let notify: AgentConfig.Notify
    private let state = Mutex<(latest: HealthReport?, sync: SyncStatus?, sample: ProcessSample?)>((nil, nil, nil))

    /// - Parameter staleBacklog: a backlog whose oldest reading is older than this degrades the device.
    init(clock: any DeviceClock, syncConfigured: Bool, clockHold: Duration = SyncConfiguration.defaultClockHold,
         staleBacklog: Duration = .seconds(3_600), notify: AgentConfig.Notify = AgentConfig.Notify()) {
        self.clock = clock
        self.syncConfigured = syncConfigured
        self.clockHold = clockHold
        self.staleBacklog = staleBacklog
        self.notify = notify
    }

    /// The report the last `refresh` built; nil before the first.
    func latestReport() -> HealthReport? { state.withLock { $0.latest } }

    /// The sync figures the last `refresh` read (nil without sync or storage): the metrics
    /// file's counters, from the same moment as the report.
    func latestSync() -> SyncStatus? { state.withLock { $0.sync } }

    /// Builds the report now and keeps it as the latest. `stores` is nil while storage is
    /// down: the report is then unhealthy with the agent's reasons and no store figures.
    /// Reading the store can fail (a damaged file): the error is the caller's to report, and
    /// the previous report stays the latest.
    @discardableResult
    func refresh(agent: AgentHealth, stores: StoreQueries?) throws -> HealthReport {
        let now = clock.now()
        var sync: SyncStatus?
        var store: HealthFacts.StoreFacts?
        var delivery: [NotifyStatus]?
        if let stores {
            if syncConfigured {
                sync = try SyncStatus.read(database: stores.database, readings: stores.readings,
                                           events: AlertEventFeed(store: stores.alerts))
            }
            store = try Self.storeFacts(stores, sync: sync, syncConfigured: syncConfigured, now: now, clockHold: clockHold)
            delivery = try Self.notifyStatuses(notify.targets.map(\.id), stores, nowMillis: now.unixMillis)
        }
        let sample = ProcessSample.read(at: now.bootNanos)
        let previous = state.withLock { $0.sample }
        let cpu = sample.flatMap { current in
            previous.map { current.cpuPercent(since: $0, ticksPerSecond: ProcessSample.ticksPerSecond) }
        } ?? 0
        let report = HealthAssessment.report(HealthFacts(
            agent: agent, now: now, bootID: clock.bootID, store: store, sync: sync, notify: delivery, notifyProblems: notify.problems,
            rssBytes: sample?.rssBytes ?? 0, cpuPercent: cpu), staleBacklog: staleBacklog)
        state.withLock { $0 = (report, sync, sample ?? $0.sample) }
        return report
    }

    /// Each target's delivery from the ledger, the figures `edge-agent notify status` shows.
    /// A target the daemon has not started yet (no cursor) has nothing to count and is left
    /// out; nil without targets.
    private static func notifyStatuses(_ targets: [String], _ stores: StoreQueries, nowMillis: Int64) throws -> [NotifyStatus]? {
        guard !targets.isEmpty else { return nil }
        guard let ledger = try NotifyLedger(existing: stores.database.writer) else { return [] }
        let events = AlertEventFeed(store: stores.alerts)
        return try targets.compactMap { target in
            try NotifyStatus.ifStarted(ledger: ledger, target: target, events: events, nowMillis: nowMillis)
        }
    }

    private static func storeFacts(_ stores: StoreQueries, sync: SyncStatus?, syncConfigured: Bool, now: DeviceTime,
                                   clockHold: Duration) throws -> HealthFacts.StoreFacts {
        let position = sync.map { max($0.readings.ackedThrough, $0.readings.skippedThrough) } ?? 0
        let backlog: (count: Int, oldestMillis: Int64?) = if let sync {
            (sync.readings.backlogRows, sync.readings.backlogOldestMillis)
        } else {
            try stores.readings.backlog(afterSequence: 0)
        }
        let hold = syncConfigured
            ? try ClockHold.current(readings: stores.readings, position: position, now: now, hold: clockHold) : nil
        return HealthFacts.StoreFacts(
            databaseBytes: stores.database.bytesOnDisk(), backlogRows: backlog.count,
            backlogOldestMillis: backlog.oldestMillis, drops: try stores.readings.dropCounts(), clockHold: hold)
    }
}

extension NotifyStatus {
    /// The target's figures, or nil while the daemon has not started it (no cursor yet).
    static func ifStarted(ledger: NotifyLedger, target: String, events: any NotifyEventSource, nowMillis: Int64) throws -> NotifyStatus? {
        do {
            return try read(ledger: ledger, target: target, events: events, nowMillis: nowMillis)
        } catch NotifyLedgerError.unknownTarget {
            return nil
        }
    }
}

/// The read side of the stores: what a health report is gathered from. The daemon's come from
/// its writable `Stores`; `status` and `sync --once` open the database read-only or for the
/// ledger alone and build one directly.
struct StoreQueries: Sendable {
    let database: LocalDatabase
    let readings: ReadingQueries
    let alerts: AlertStore
}

extension Stores {
    var queries: StoreQueries { StoreQueries(database: database, readings: readings.queries, alerts: alerts) }
}
