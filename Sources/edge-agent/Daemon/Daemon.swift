import AlertEngine
import EdgeCore
import Foundation
import HAL
import Logging
import Notify
import NotifyDelivery
import Profiles
import Readings
import Sync
import Synchronization
import Wire

/// `edge-agent run`: everything the device does, until SIGTERM.
///
/// The profile's part (board, poller, filters, alert rules) is a `Session` that SIGHUP
/// replaces when the new profile is valid, and keeps when it is not. The stores belong to
/// `StorageSupervisor` and change only when storage fails and recovers (a new store after a
/// quarantine, the file opening after it could not); the session and sync then move to them.
final class Daemon: Sendable {
    let config: AgentConfig
    let clock: any DeviceClock
    let logger: Logger
    let notifier: SystemdNotifier
    let startedAt: DeviceTime
    private let current = Mutex<Session?>(nil)
    /// The database, apart: when it fails, polling, alerting and GPIO go on.
    let storage: StorageSupervisor
    private let sync = Mutex<(engine: SyncEngine, task: Task<Void, Never>)?>(nil)
    /// Why sync is not running although configured.
    private let syncProblem = Mutex<String?>(nil)
    /// One delivery stage per notify target, on the stores of the moment.
    private let notify = Mutex<[(stage: NotifyStage, task: Task<Void, Never>)]>([])
    /// Why notifications are not running although targets are configured.
    private let notifyProblem = Mutex<String?>(nil)
    /// The last reason the metrics textfile could not be written, so it is logged once.
    private let metricsProblem = Mutex<String?>(nil)
    /// Builds the health report on the housekeeping timer; the file and Sync read it.
    let health: HealthMonitor

    init(config: AgentConfig, clock: any DeviceClock = SystemDeviceClock(), logger: Logger,
         notifier: SystemdNotifier = SystemdNotifier()) {
        self.config = config
        self.clock = clock
        self.logger = logger
        self.notifier = notifier
        self.startedAt = clock.now()
        self.storage = StorageSupervisor(paths: DataPaths(config), clock: clock, logger: logger)
        self.health = HealthMonitor(clock: clock, syncConfigured: config.sync.url != nil, notify: config.notify)
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

        let signals = ProcessSignal.stream()
        let paths = DataPaths(config)
        // A database that cannot be opened leaves storage down, not the daemon stopped.
        storage.start()
        if let reason = DaemonPresence.claim(directory: paths.directory) {
            logger.warning("cannot mark the data directory in use; `status` may say the agent is not running", metadata: ["reason": "\(reason)"])
        }
        let session: Session
        do {
            session = try Session(profile: profile, storage: storage, clock: clock, logger: logger, eventsRecorded: ringNotify)
        } catch where storage.quarantineBeforeStart(after: error) {
            session = try Session(profile: profile, storage: storage, clock: clock, logger: logger, eventsRecorded: ringNotify)
        }
        current.withLock { $0 = session }
        if let stores = storage.stores {
            startSync(stores)
            startNotify(stores)
        }
        notifier.ready(status: session.summary)
        logger.info("agent started", metadata: [
            "profile": "\(config.profilePath)", "sensors": "\(session.board.sensors.count)",
            "data_dir": "\(paths.directory)", "sync": "\(config.sync.redactedURL ?? "off")",
            "notify_targets": "\(config.notify.targets.map(\.id).joined(separator: ","))"])

        let (events, post) = AsyncStream.makeStream(of: Event.self)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.storage.run() }
            group.addTask { await self.housekeeping(healthPath: paths.health) }
            group.addTask { for await signal in signals { post.yield(.signal(signal)) } }
            group.addTask { for await stores in self.storage.changes { post.yield(.storage(stores)) } }
            if let interval = notifier.watchdogInterval {
                group.addTask {
                    while (try? await self.clock.sleep(for: interval)) != nil { self.notifier.watchdog() }
                }
            }
            group.addTask { await session.poll() }

            for await event in events {
                switch event {
                case .signal(.stop(let number)):
                    logger.info("stopping", metadata: ["signal": "\(number)"])
                case .signal(.reload):
                    await reload(group: &group)
                    continue
                case .storage(let stores):
                    await storageChanged(to: stores, group: &group)
                    continue
                }
                break
            }
            notifier.stopping()
            storage.finish()
            post.finish()
            await stopSync()
            await stopNotify()
            group.cancelAll()
        }
        do { try storage.stores?.readings.flush() } catch { logger.error("final flush failed", metadata: ["error": "\(error)"]) }
        current.withLock { $0 }?.failSafe()
        writeHealth(to: paths.health)
        logger.info("stopped")
        return 0
    }

    private enum Event: Sendable {
        case signal(ProcessSignal)
        case storage(Stores)
    }

    /// SIGHUP: a valid new profile replaces the session; an invalid one is reported and the
    /// running session goes on untouched.
    private func reload(group: inout TaskGroup<Void>) async {
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
        await replaceSession(profile: profile, group: &group)
        // Which rules are `stale` ones is the new profile's to say.
        if let stores = storage.stores {
            await stopNotify()
            startNotify(stores)
        }
    }

    /// The stores changed (storage came back, or a damaged file was replaced): the session
    /// and sync move to them. The session's alert state comes from the new stores.
    private func storageChanged(to stores: Stores, group: inout TaskGroup<Void>) async {
        if let profile = current.withLock({ $0?.profile }) {
            await replaceSession(profile: profile, group: &group)
        }
        await stopSync()
        startSync(stores)
        await stopNotify()
        startNotify(stores)
    }

    private func replaceSession(profile: DeviceProfile, group: inout TaskGroup<Void>) async {
        guard let old = current.withLock({ $0 }) else { return }
        await old.stop()
        do {
            let session = try Session(profile: profile, storage: storage, clock: clock, logger: logger, eventsRecorded: ringNotify)
            current.withLock { $0 = session }
            group.addTask { await session.poll() }
            logger.info("session started", metadata: ["sensors": "\(session.board.sensors.count)"])
        } catch {
            logger.error("new session could not start; restarting the previous one", metadata: ["error": "\(error)"])
            if let again = try? Session(profile: old.profile, storage: storage, clock: clock, logger: logger, eventsRecorded: ringNotify) {
                current.withLock { $0 = again }
                group.addTask { await again.poll() }
            }
        }
    }

    /// Starts sync on `stores`. A sync that cannot start (a damaged database, a bad token
    /// file) is reported and the daemon goes on without it.
    private func startSync(_ stores: Stores) {
        let engine: SyncEngine?
        do {
            engine = try SyncSetup.engine(config: config, database: stores.database, readings: stores.readings.queries,
                                          alerts: stores.alerts, health: health, clock: clock, logger: logger)
            syncProblem.withLock { $0 = nil }
        } catch {
            logger.error("sync disabled", metadata: ["error": "\(error)"])
            syncProblem.withLock { $0 = "sync disabled: \(error)" }
            storage.reportFailure(error, in: stores.database, during: "starting sync")
            return
        }
        guard let engine else { return }
        let task = Task {
            await self.retry("sync") {
                do {
                    try await engine.run()
                } catch {
                    storage.reportFailure(error, in: stores.database, during: "sync")
                    throw error
                }
            }
        }
        sync.withLock { $0 = (engine, task) }
    }

    private func stopSync() async {
        guard let running = sync.withLock({ state in defer { state = nil }; return state }) else { return }
        running.task.cancel()
        await running.task.value
    }

    /// Starts one notification stage per configured target on `stores`. Ledger tables that
    /// cannot be created are reported and the daemon goes on without notifications.
    private func startNotify(_ stores: Stores) {
        // A broken target is left out by the config, never silently: logged here each time
        // the stages start, and a degraded reason in every health report.
        for problem in config.notify.problems {
            logger.error("notify target left out", metadata: ["problem": "\(problem)"])
        }
        let stages: [NotifyStage]
        do {
            let targets = current.withLock { $0 }.map { config.notify.targets(for: $0.profile) } ?? config.notify.targets
            stages = try NotifySetup.stages(config: config, targets: targets, database: stores.database, alerts: stores.alerts,
                                            transport: NotifySetup.transport(), clock: clock, logger: logger)
            notifyProblem.withLock { $0 = nil }
        } catch {
            logger.error("notifications disabled", metadata: ["error": "\(error)"])
            notifyProblem.withLock { $0 = "notifications disabled: \(error)" }
            storage.reportFailure(error, in: stores.database, during: "starting notifications")
            return
        }
        notify.withLock { $0 = stages.map { stage in (stage, Task { await stage.run() }) } }
    }

    private func stopNotify() async {
        let running = notify.withLock { state in defer { state = [] }; return state }
        for (_, task) in running { task.cancel() }
        for (_, task) in running { await task.value }
    }

    /// The alert engine recorded events: every stage looks at once instead of at its next poll.
    @Sendable private func ringNotify() {
        for (stage, _) in notify.withLock({ $0 }) { stage.wakeup.ring() }
    }

    /// Stale-alert timers, filter heartbeats, clock synchronisation, retention and the
    /// health file: slow, periodic and cheap, on one timer.
    private func housekeeping(healthPath: String) async {
        var watch = ClockWatch()
        var lastRetention: UInt64?
        var lastHealth: UInt64?
        let policy = RetentionPolicy(maxAge: config.retention.maxAge, byteBudget: config.retention.diskBudgetBytes,
                                     freeSpaceFloor: config.retention.freeSpaceFloorBytes)
        repeat {
            let now = clock.now()
            current.withLock { $0 }?.tick(at: now)
            let stores = storage.stores
            if ClockWatch.shouldSynchronize(watch.observe(now)), let stores {
                do {
                    try stores.readings.flush()
                    let corrected = try stores.readings.synchronizeClock()
                    logger.notice("wall clock synchronised", metadata: ["restamped_readings": "\(corrected)"])
                } catch {
                    logger.error("re-stamping readings failed", metadata: ["error": "\(error)"])
                    storage.reportFailure(error, in: stores.database, during: "re-stamping readings")
                }
            }
            if let stores, lastRetention.map({ now.bootNanos - $0 >= 60_000_000_000 }) ?? true {
                lastRetention = now.bootNanos
                do {
                    // Without sync configured nothing is synced: nil, and budget drops are
                    // "budget-sync-off". Configured but not running: 0, nothing counts as synced.
                    let engine = sync.withLock { $0?.engine }
                    let floor: Int64? = if let engine { try await engine.retentionFloor() } else if config.sync.url != nil { 0 } else { nil }
                    let report = try stores.readings.enforceRetention(policy, syncedThrough: floor)
                    let dropped = report.droppedByAge + report.droppedSynced + report.droppedUnsynced + report.droppedSyncOff
                    if dropped > 0 {
                        logger.notice("retention dropped readings", metadata: [
                            "by_age": "\(report.droppedByAge)", "synced": "\(report.droppedSynced)",
                            "unsynced": "\(report.droppedUnsynced)", "sync_off": "\(report.droppedSyncOff)"])
                    }
                } catch {
                    logger.error("retention failed", metadata: ["error": "\(error)"])
                    storage.reportFailure(error, in: stores.database, during: "retention")
                }
            }
            if lastHealth.map({ now.bootNanos - $0 >= 5_000_000_000 }) ?? true {
                lastHealth = now.bootNanos
                writeHealth(to: healthPath)
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

    /// Refreshes the health report and writes it where `status` reads it.
    private func writeHealth(to path: String) {
        let report: HealthReport
        do {
            report = try health.refresh(agent: agentHealth(), stores: storage.stores?.queries)
            try HealthFile.write(report, to: path)
        } catch {
            logger.error("health report failed", metadata: ["error": "\(error)"])
            storage.reportFailure(error, in: storage.stores?.database, during: "health report")
            return
        }
        writeMetrics(report)
    }

    /// The Prometheus textfile, when agent.yaml names one. A failure (the collector's
    /// directory missing or full) is logged once per cause and never touches polling.
    private func writeMetrics(_ report: HealthReport) {
        guard let path = config.metricsTextfile else { return }
        let inputs = MetricsTextfile.Inputs(report: report, sync: health.latestSync(),
                                            readsOK: current.withLock { $0 }?.health.readsOK() ?? [:], board: BoardFacts.read())
        do {
            try MetricsTextfile.write(MetricsTextfile.render(inputs), to: path)
            metricsProblem.withLock { $0 = nil }
        } catch {
            let text = "\(error)"
            let first = metricsProblem.withLock { previous in
                defer { previous = text }
                return previous != text
            }
            if first { logger.warning("metrics textfile not written", metadata: ["path": "\(path)", "error": "\(text)"]) }
        }
    }
}

extension Daemon {
    func agentHealth() -> AgentHealth {
        let session = current.withLock { $0 }
        let now = clock.now()
        return AgentHealth(version: EdgeAgent.version, startedAt: startedAt,
                           sensors: session?.health.snapshot(now: now, startedAt: session?.startedAt ?? startedAt) ?? [],
                           firingAlerts: session?.firingCount() ?? 0,
                           problems: [syncProblem.withLock { $0 }, notifyProblem.withLock { $0 }].compactMap { $0 },
                           criticalProblems: storage.problems())
    }
}

/// The stores every stage shares: one SQLite file, one table family per stage.
struct Stores: Sendable {
    let database: LocalDatabase
    let readings: ReadingWriter
    let alerts: AlertStore
}
