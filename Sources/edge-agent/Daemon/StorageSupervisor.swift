import AlertEngine
import EdgeCore
import Foundation
import Logging
import Readings
import Synchronization

/// The daemon's database, kept apart so that a failing one never stops polling, alerting or
/// GPIO actions (docs/STORAGE.md, "When storage fails").
///
/// - Up: readings go to the `ReadingWriter`, committed by its group commit.
/// - Down (the file cannot be opened, or commits fail): readings wait in memory, at most
///   `memoryCap` (the store's own buffer while it is open), and every reading not kept is
///   counted per sensor, recorded as `storage-down` once storage is back. Retried every
///   `retryInterval`; alert state lives in an in-memory database meanwhile.
/// - Damaged (SQLITE_CORRUPT / SQLITE_NOTADB from any store call): the file is moved aside
///   with `LocalDatabase.recreate`, a new store (new store id) takes the readings, the
///   quarantine is recorded in the data directory, and health is unhealthy until
///   `edge-agent storage ack`.
///
/// Every change of stores is announced on `changes`, so the daemon rebuilds what uses them.
final class StorageSupervisor: Sendable {
    /// Readings held while no database is open: as many as a `ReadingWriter` buffers while
    /// its commits fail (16 × 512), about 1.5 MB.
    static let memoryCap = 8_192
    static let retryInterval: Duration = .seconds(5)

    let paths: DataPaths
    let quarantines: QuarantineLog
    let changes: AsyncStream<Stores>
    private let announce: AsyncStream<Stores>.Continuation
    private let clock: any DeviceClock
    private let logger: Logger
    private let state: Mutex<State>

    private struct State: Sendable {
        var stores: Stores?
        /// Alert state while no database is open.
        var scratchAlerts: AlertStore?
        /// Why storage is not writing, or nil.
        var down: String?
        var held: [Sample] = []
        /// Readings not kept since storage went down, per sensor; written once it is back.
        var drops: [String: DropCount] = [:]
        var commit: Task<Void, any Error>?
        /// Set by `reportFailure` for the stores it names; the commit loop acts on it.
        var damage: (database: LocalDatabase, reason: String)?
    }

    init(paths: DataPaths, clock: any DeviceClock, logger: Logger) {
        self.paths = paths
        self.quarantines = QuarantineLog(path: paths.quarantineLog)
        self.clock = clock
        self.logger = logger
        self.state = Mutex(State())
        (changes, announce) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// The stores now in use, or nil while the database cannot be opened.
    var stores: Stores? { state.withLock { $0.stores } }

    /// The alert store a new session should use, with the database under it: the file's,
    /// or an in-memory one (no database) while the file cannot be opened.
    func alertStore() throws -> (store: AlertStore, database: LocalDatabase?) {
        try state.withLock { state in
            if let stores = state.stores { return (stores.alerts, stores.database) }
            if let scratch = state.scratchAlerts { return (scratch, nil) }
            let scratch = try AlertStore(writer: LocalDatabase.scratchWriter())
            state.scratchAlerts = scratch
            return (scratch, nil)
        }
    }

    /// Opens the database for the first time. Failing leaves storage down, not the daemon.
    func start() {
        _ = open()
    }

    /// For an error met before `run()` started (the alert state read at start): quarantines
    /// the database if the error says it is damaged.
    /// - Returns: whether a new store took over, so that the caller may try again.
    func quarantineBeforeStart(after error: any Error) -> Bool {
        guard LocalDatabase.isCorruption(error), let stores else { return false }
        return quarantine(stores, reason: "reading alert state at start: \(LocalDatabase.describe(error))")
    }

    // MARK: - Readings

    /// Stores one reading, or holds it while storage is down. Throws only for bad input.
    func append(_ sample: Sample) throws {
        let stores = state.withLock { state -> Stores? in
            guard state.stores == nil else { return state.stores }
            if state.held.count < Self.memoryCap {
                state.held.append(sample)
            } else {
                Self.countDrop(sample.sensorID, at: sample.time, &state)
            }
            return nil
        }
        guard let stores else { return }
        do {
            try stores.readings.append(sample)
        } catch ReadingStoreError.bufferFull {
            state.withLock { Self.countDrop(sample.sensorID, at: sample.time, &$0) }
        }
    }

    private static func countDrop(_ sensorID: String, at time: DeviceTime, _ state: inout State) {
        let millis = time.unixMillis
        var drop = state.drops[sensorID]
            ?? DropCount(sensorID: sensorID, reason: .storageDown, count: 0, firstMillis: millis, lastMillis: millis)
        drop.count += 1
        drop.firstMillis = min(drop.firstMillis, millis)
        drop.lastMillis = max(drop.lastMillis, millis)
        state.drops[sensorID] = drop
    }

    // MARK: - Failures

    /// Any store call that failed reports here. Corruption of the database in use has the
    /// commit loop quarantine it; anything else is the caller's to log.
    func reportFailure(_ error: any Error, in database: LocalDatabase?, during what: String) {
        guard let database, LocalDatabase.isCorruption(error) else { return }
        let commit = state.withLock { state -> Task<Void, any Error>? in
            guard state.stores?.database === database, state.damage == nil else { return nil }
            state.damage = (database, "\(what): \(LocalDatabase.describe(error))")
            return state.commit
        }
        commit?.cancel()
    }

    /// Health lines, each making the device unhealthy: storage down, and every quarantine
    /// not yet acknowledged.
    func problems() -> [String] {
        var problems: [String] = []
        let (down, held, buffered, dropped) = state.withLock { state in
            (state.down, state.held.count, state.stores?.readings.bufferedCount ?? 0,
             state.drops.values.reduce(Int64(0)) { $0 + $1.count })
        }
        if let down {
            problems.append("storage is down: \(down); \(held + buffered) readings held in memory (at most \(Self.memoryCap)), \(dropped) not kept")
        }
        do {
            for entry in try quarantines.unacknowledged() {
                problems.append(
                    "database was damaged (\(entry.reason)) and moved to \(entry.movedTo); export it with "
                        + "`edge-agent readings salvage \(entry.movedTo)`, then run `edge-agent storage ack`")
            }
        } catch {
            problems.append("cannot read \(quarantines.path): \(error)")
        }
        return problems
    }

    // MARK: - The commit loop

    /// Group commit while storage is up, reopening while it is down, quarantine when it is
    /// damaged; until cancelled, when it commits what is buffered.
    func run() async {
        while !Task.isCancelled {
            guard let stores = self.stores else {
                guard (try? await clock.sleep(for: Self.retryInterval)) != nil else { return }
                if let stores = open() { announce.yield(stores) }
                continue
            }
            let commit = Task { try await stores.readings.run() }
            let damagedEarly = state.withLock { state in
                state.commit = commit
                return state.damage != nil
            }
            if damagedEarly { commit.cancel() }
            let result = await withTaskCancellationHandler { await commit.result } onCancel: { commit.cancel() }
            let damage = state.withLock { state in
                defer { state.commit = nil; state.damage = nil }
                return state.damage
            }
            guard !Task.isCancelled else { return }
            let failure: (any Error)? = if case .failure(let error) = result { error } else { nil }
            let reason = damage?.reason
                ?? failure.flatMap { LocalDatabase.isCorruption($0) ? "committing readings: \(LocalDatabase.describe($0))" : nil }
            if let reason {
                if !quarantine(stores, reason: reason) {
                    guard (try? await clock.sleep(for: Self.retryInterval)) != nil else { return }
                }
                continue
            }
            guard let failure else { return }
            await waitForCommits(stores, after: failure)
        }
    }

    /// A commit failed for a reason other than damage (read-only or full filesystem, I/O
    /// error): storage is down until a flush works again.
    private func waitForCommits(_ stores: Stores, after error: any Error) async {
        markDown("committing readings failed: \(LocalDatabase.describe(error))")
        while !Task.isCancelled {
            guard (try? await clock.sleep(for: Self.retryInterval)) != nil else { return }
            do {
                try stores.readings.flush()
                markUp(stores)
                return
            } catch {
                if LocalDatabase.isCorruption(error) {
                    reportFailure(error, in: stores.database, during: "committing readings")
                    return
                }
                markDown("committing readings failed: \(LocalDatabase.describe(error))")
            }
        }
    }

    private func markDown(_ reason: String) {
        let changed = state.withLock { state in
            defer { state.down = reason }
            return state.down != reason
        }
        if changed { logger.error("storage is down; readings are held in memory", metadata: ["reason": "\(reason)"]) }
    }

    /// Storage works: the readings not kept meanwhile are recorded as dropped.
    private func markUp(_ stores: Stores) {
        let (wasDown, drops) = state.withLock { state in
            defer { state.down = nil; state.drops = [:] }
            return (state.down != nil, Array(state.drops.values))
        }
        do {
            try stores.readings.recordDrops(drops.sorted { $0.sensorID < $1.sensorID })
        } catch {
            logger.error("readings dropped while storage was down could not be recorded", metadata: [
                "error": "\(error)", "dropped": "\(drops.reduce(0) { $0 + $1.count })"])
        }
        if wasDown { logger.notice("storage is back") }
    }

    /// Opens the database and its stores; on success hands them the readings held meanwhile.
    private func open() -> Stores? {
        let stores: Stores
        do {
            try FileManager.default.createDirectory(atPath: paths.directory, withIntermediateDirectories: true)
            let database = try LocalDatabase.open(path: paths.database, clock: clock)
            stores = Stores(database: database, readings: try ReadingWriter(database: database, clock: clock),
                            alerts: try AlertStore(writer: database.writer))
            if let moved = database.recoveredFrom {
                recordQuarantine(movedTo: moved, reason: "found unreadable at start")
            }
        } catch {
            markDown("cannot open \(paths.database): \(LocalDatabase.describe(error))")
            return nil
        }
        // The held readings go in before the stores are published, so they keep their
        // place before the readings taken from then on.
        while true {
            let held = state.withLock { state -> [Sample] in
                guard !state.held.isEmpty else {
                    state.stores = stores
                    state.scratchAlerts = nil
                    return []
                }
                defer { state.held = [] }
                return state.held
            }
            guard !held.isEmpty else { break }
            for reading in held {
                do {
                    try stores.readings.append(reading)
                } catch {
                    logger.error("held reading not stored", metadata: ["sensor": "\(reading.sensorID)", "error": "\(error)"])
                }
            }
        }
        do {
            try stores.readings.flush()
            markUp(stores)
        } catch {
            markDown("committing readings failed: \(LocalDatabase.describe(error))")
        }
        return stores
    }

    /// Moves the damaged file aside, starts a new store, and carries the uncommitted
    /// readings over. If even that fails, storage is down and the damaged store stays.
    /// - Returns: whether a new store took over.
    private func quarantine(_ damaged: Stores, reason: String) -> Bool {
        let fresh: Stores
        do {
            let database = try LocalDatabase.recreate(path: paths.database, clock: clock)
            fresh = Stores(database: database, readings: try ReadingWriter(database: database, clock: clock),
                           alerts: try AlertStore(writer: database.writer))
            recordQuarantine(movedTo: database.recoveredFrom ?? "?", reason: reason)
        } catch {
            // The damaged store keeps its buffer (bounded, drops counted) and the next
            // corruption it meets tries again.
            markDown("database damaged (\(reason)) and could not be moved aside: \(LocalDatabase.describe(error))")
            return false
        }
        // New readings go to the new store first, then the damaged one's buffer follows.
        state.withLock { $0.stores = fresh }
        let moved = damaged.readings.moveBuffered(to: fresh.readings)
        logger.critical("database damaged; moved it aside and started a new store", metadata: [
            "reason": "\(reason)", "moved_to": "\(fresh.database.recoveredFrom ?? "?")",
            "store_id": "\(fresh.database.storeID)", "readings_carried_over": "\(moved)"])
        announce.yield(fresh)
        markUp(fresh)
        return true
    }

    private func recordQuarantine(movedTo: String, reason: String) {
        do {
            try quarantines.recordQuarantine(movedTo: movedTo, reason: reason, at: clock.now())
        } catch {
            logger.error("quarantine could not be recorded", metadata: ["moved_to": "\(movedTo)", "error": "\(error)"])
        }
    }

    /// The daemon is stopping: no more changes will be announced, and readings still held
    /// in memory are lost, which the log says.
    func finish() {
        announce.finish()
        let held = state.withLock { $0.held.count }
        if held > 0 { logger.critical("stopping with storage down; readings held in memory are lost", metadata: ["readings": "\(held)"]) }
    }
}
