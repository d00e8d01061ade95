import AlertEngine
import EdgeCore
import Foundation
import HAL
import Logging
import Profiles
import Readings
import Sync
import Synchronization
import Wire

/// `edge-agent run`: everything the device does, until SIGTERM.
///
/// The readings store and sync live for the whole process; the profile's part (board,
/// poller, filters, alert rules) is a `Session` that SIGHUP replaces when the new profile is
/// valid, and keeps when it is not.
final class Daemon: Sendable {
    let config: AgentConfig
    let clock: any DeviceClock
    let logger: Logger
    let notifier: SystemdNotifier
    let startedAt: DeviceTime
    private let current = Mutex<Session?>(nil)
    private let problems = Mutex<[String]>([])

    init(config: AgentConfig, clock: any DeviceClock = SystemDeviceClock(), logger: Logger,
         notifier: SystemdNotifier = SystemdNotifier()) {
        self.config = config
        self.clock = clock
        self.logger = logger
        self.notifier = notifier
        self.startedAt = clock.now()
    }

    /// Runs until a stop signal; returns the process exit status.
    func run() async throws -> Int32 {
        let profile: DeviceProfile
        do {
            profile = try DeviceProfile.load(path: config.profilePath)
        } catch {
            for line in error.errors { logger.critical("\(line)") }
            return 78 // EX_CONFIG
        }

        let paths = DataPaths(config)
        try FileManager.default.createDirectory(atPath: paths.directory, withIntermediateDirectories: true)
        let database = try LocalDatabase.open(path: paths.database, clock: clock)
        if let moved = database.recoveredFrom {
            problems.withLock { $0.append("database was unreadable and was moved to \(moved)") }
            logger.error("database was corrupt; moved it aside and started a new one", metadata: ["moved_to": "\(moved)"])
        }
        let store = try ReadingStore(database: database, clock: clock)
        let alertStore = try AlertStore(writer: database.writer)
        let stores = Stores(database: database, readings: store, alerts: alertStore)
        let sync = try SyncSetup.engine(config: config, stores: stores, health: self, clock: clock, logger: logger)

        let session = try Session(profile: profile, stores: stores, clock: clock, logger: logger)
        current.withLock { $0 = session }
        notifier.ready(status: session.summary)
        logger.info("agent started", metadata: [
            "profile": "\(config.profilePath)", "sensors": "\(session.board.sensors.count)",
            "data_dir": "\(paths.directory)", "sync": "\(config.sync.url ?? "off")"])

        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.retry("group commit") { try await store.run() } }
            group.addTask { await self.housekeeping(stores: stores, sync: sync, healthPath: paths.health) }
            if let sync { group.addTask { await self.retry("sync") { try await sync.run() } } }
            if let interval = notifier.watchdogInterval {
                group.addTask {
                    while (try? await self.clock.sleep(for: interval)) != nil { self.notifier.watchdog() }
                }
            }
            group.addTask { await session.poll() }

            for await signal in ProcessSignal.stream() {
                if case .stop(let number) = signal {
                    logger.info("stopping", metadata: ["signal": "\(number)"])
                    break
                }
                await reload(stores: stores, group: &group)
            }
            notifier.stopping()
            group.cancelAll()
        }
        do { try store.flush() } catch { logger.error("final flush failed", metadata: ["error": "\(error)"]) }
        current.withLock { $0 }?.failSafe()
        await writeHealth(to: paths.health, reporter: HealthReporter(database: database, readings: store, clock: clock), sync: sync)
        logger.info("stopped")
        return 0
    }

    /// SIGHUP: a valid new profile replaces the session; an invalid one is reported and the
    /// running session goes on untouched.
    private func reload(stores: Stores, group: inout TaskGroup<Void>) async {
        notifier.reloading()
        defer { notifier.ready(status: current.withLock { $0?.summary } ?? "") }
        let profile: DeviceProfile
        do {
            profile = try DeviceProfile.load(path: config.profilePath)
        } catch {
            for line in error.errors { logger.error("reload rejected: \(line)") }
            logger.error("keeping the running profile")
            return
        }
        guard let old = current.withLock({ $0 }) else { return }
        await old.stop()
        do {
            let session = try Session(profile: profile, stores: stores, clock: clock, logger: logger)
            current.withLock { $0 = session }
            group.addTask { await session.poll() }
            logger.info("profile reloaded", metadata: ["sensors": "\(session.board.sensors.count)"])
        } catch {
            logger.error("new profile could not start; restarting the previous one", metadata: ["error": "\(error)"])
            if let again = try? Session(profile: old.profile, stores: stores, clock: clock, logger: logger) {
                current.withLock { $0 = again }
                group.addTask { await again.poll() }
            }
        }
    }

    /// Stale-alert timers, filter heartbeats, clock synchronisation, retention and the
    /// health file: slow, periodic and cheap, on one timer.
    private func housekeeping(stores: Stores, sync: SyncEngine?, healthPath: String) async {
        var watch = ClockWatch()
        var lastRetention: UInt64?
        var lastHealth: UInt64?
        let reporter = HealthReporter(database: stores.database, readings: stores.readings, clock: clock)
        let policy = RetentionPolicy(maxAge: config.retention.maxAge, byteBudget: config.retention.diskBudgetBytes,
                                     freeSpaceFloor: config.retention.freeSpaceFloorBytes)
        repeat {
            let now = clock.now()
            current.withLock { $0 }?.tick(at: now)
            if ClockWatch.shouldSynchronize(watch.observe(now)) {
                do {
                    try stores.readings.flush()
                    let corrected = try stores.readings.synchronizeClock()
                    logger.notice("wall clock synchronised", metadata: ["restamped_readings": "\(corrected)"])
                } catch {
                    logger.error("re-stamping readings failed", metadata: ["error": "\(error)"])
                }
            }
            if lastRetention.map({ now.bootNanos - $0 >= 60_000_000_000 }) ?? true {
                lastRetention = now.bootNanos
                do {
                    // nil without sync: its drops are labelled "budget-sync-off", not "synced".
                    let floor = try await sync?.retentionFloor()
                    let report = try stores.readings.enforceRetention(policy, syncedThrough: floor)
                    let dropped = report.droppedByAge + report.droppedSynced + report.droppedUnsynced + report.droppedSyncOff
                    if dropped > 0 {
                        logger.notice("retention dropped readings", metadata: [
                            "by_age": "\(report.droppedByAge)", "synced": "\(report.droppedSynced)",
                            "unsynced": "\(report.droppedUnsynced)", "sync_off": "\(report.droppedSyncOff)"])
                    }
                } catch {
                    logger.error("retention failed", metadata: ["error": "\(error)"])
                }
            }
            if lastHealth.map({ now.bootNanos - $0 >= 5_000_000_000 }) ?? true {
                lastHealth = now.bootNanos
                await writeHealth(to: healthPath, reporter: reporter, sync: sync)
            }
        } while (try? await clock.sleep(for: .seconds(1))) != nil
    }

    /// Runs a long-lived loop again after an error, so one failing stage never stops the
    /// others: sensors keep polling and alerting while sync or a commit is failing.
    private func retry(_ what: String, _ body: () async throws -> Void) async {
        while !Task.isCancelled {
            do {
                try await body()
                return
            } catch is CancellationError {
                return
            } catch {
                logger.error("\(what) failed; retrying in 5 s", metadata: ["error": "\(error)"])
                try? await clock.sleep(for: .seconds(5))
            }
        }
    }

    private func writeHealth(to path: String, reporter: HealthReporter, sync: SyncEngine?) async {
        do {
            let status = try await sync?.status()
            let report = try reporter.report(agent: agentHealth(), now: clock.now(), sync: status)
            try HealthFile.write(report, to: path)
        } catch {
            logger.error("health report failed", metadata: ["error": "\(error)"])
        }
    }
}

extension Daemon: HealthSource {
    func agentHealth() -> AgentHealth {
        let session = current.withLock { $0 }
        let now = clock.now()
        return AgentHealth(version: EdgeAgent.version, startedAt: startedAt,
                           sensors: session?.health.snapshot(now: now, startedAt: session?.startedAt ?? startedAt) ?? [],
                           firingAlerts: session?.firingCount() ?? 0,
                           problems: problems.withLock { $0 })
    }
}

/// The stores every stage shares: one SQLite file, one table family per stage.
struct Stores: Sendable {
    let database: LocalDatabase
    let readings: ReadingStore
    let alerts: AlertStore
}
