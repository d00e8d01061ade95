import EdgeCore
import GRDB
import Synchronization

/// Readings into SQLite, by group commit: the only writer of the `readings` and `series`
/// tables. What is read back goes through `ReadingQueries` (`queries`).
///
/// `append` only buffers; a timer (`run`) or a full buffer turns the buffer into one
/// transaction with one prepared statement, so the SD card sees one WAL append per
/// interval, not one fsync per reading. Sequences are SQLite's AUTOINCREMENT row ids:
/// assigned at commit in append order, never reused.
public final class ReadingWriter: Sendable {
    public static let maxSensorIDLength = 128
    public static let maxUnitLength = 32

    public let database: LocalDatabase
    /// What the writer's own callers read back (the daemon's retention and health, sync).
    public let queries: ReadingQueries
    let clock: any DeviceClock
    let policy: GroupCommitPolicy
    /// Row id of this boot in `boots`.
    let bootRow: Int64
    /// While commits fail the buffer keeps readings, up to this many.
    let bufferCap: Int
    private let state: Mutex<State>

    struct SeriesKey: Hashable, Sendable {
        var sensorID: String
        var unit: String
    }

    struct Pending: Sendable {
        var series: SeriesKey
        var millis: Int64
        var value: Double
        var quality: Int64
        var clockUnsynced: Bool
        var bootNanos: Int64
    }

    struct State: Sendable {
        var buffer: [Pending] = []
        var seriesIDs: [SeriesKey: Int64] = [:]
        var writtenSinceCheckpoint = false
        var lastCheckpointNanos: UInt64
        /// `run()` waiting for the first row of the next group.
        var waiter: CheckedContinuation<Void, Never>?
    }

    public init(database: LocalDatabase, clock: any DeviceClock, commit: GroupCommitPolicy = .init()) throws {
        self.database = database
        self.clock = clock
        self.policy = commit
        self.bufferCap = max(commit.maxRows, 1) * 16
        self.queries = ReadingQueries(database: database, bootID: clock.bootID)
        self.bootRow = try database.writer.write { db in
            try db.execute(sql: "INSERT INTO boots (boot_id) VALUES (?) ON CONFLICT DO NOTHING", arguments: [clock.bootID])
            return try Int64.fetchOne(db, sql: "SELECT id FROM boots WHERE boot_id = ?", arguments: [clock.bootID])!
        }
        self.state = Mutex(State(lastCheckpointNanos: clock.now().bootNanos))
    }

    /// Buffers one reading; it is durable against a process crash at the next group commit.
    ///
    /// A reading taken while the wall clock was not synchronised keeps its measured quality
    /// and is flagged clock-unsynced with its boot-relative time, so `synchronizeClock()`
    /// can correct it.
    ///
    /// Throws only when the reading was not kept: bad input, or `bufferFull`. A commit that
    /// fails when the buffer reaches `maxRows` keeps the readings buffered and is retried and
    /// reported by the next `flush()` (the timer's, in `run()`).
    public func append(_ sample: Sample) throws {
        let sensorID = sample.sensorID
        guard !sensorID.isEmpty, sensorID.utf8.count <= Self.maxSensorIDLength else {
            throw ReadingStoreError.invalidSensorID(sensorID)
        }
        guard sample.unit.utf8.count <= Self.maxUnitLength else {
            throw ReadingStoreError.invalidUnit(sensorID: sensorID, unit: sample.unit)
        }
        guard sample.value.isFinite else { throw ReadingStoreError.nonFiniteValue(sensorID: sensorID) }
        let pending = Pending(
            series: SeriesKey(sensorID: sensorID, unit: sample.unit),
            millis: sample.time.unixMillis,
            value: sample.value,
            quality: Schema.code(sample.quality),
            clockUnsynced: !sample.time.synchronized,
            bootNanos: Int64(clamping: sample.time.bootNanos))
        let full = try state.withLock { state throws(ReadingStoreError) -> Bool in
            guard state.buffer.count < bufferCap else {
                throw ReadingStoreError.bufferFull(sensorID: sensorID, buffered: state.buffer.count)
            }
            state.buffer.append(pending)
            if state.buffer.count == 1, let waiter = state.waiter {
                state.waiter = nil
                waiter.resume()
            }
            // At every multiple, not at every append: while commits fail, each append
            // should not wait out another busy timeout.
            return state.buffer.count.isMultiple(of: max(policy.maxRows, 1))
        }
        if full { try? flush() }
    }

    /// Commits the buffer now, in one transaction. On failure the readings stay buffered
    /// (up to a cap) and the next flush tries again.
    public func flush() throws {
        guard state.withLock({ !$0.buffer.isEmpty }) else { return }
        var taken: [Pending] = []
        do {
            let learned = try database.writer.write { db in
                // Taken inside the serial writer so concurrent flushes commit in append order.
                let (rows, known) = state.withLock { state in
                    defer { state.buffer.removeAll(keepingCapacity: true) }
                    return (state.buffer, state.seriesIDs)
                }
                taken = rows
                return try insert(rows, known: known, db)
            }
            state.withLock { state in
                state.seriesIDs.merge(learned) { old, _ in old }
                state.writtenSinceCheckpoint = true
            }
        } catch {
            state.withLock { $0.buffer.insert(contentsOf: taken, at: 0) }
            throw error
        }
    }

    /// The group-commit timer on the injected clock: a group is committed `interval` after
    /// its first row arrived (so no reading waits longer), and a checkpoint follows a commit
    /// once `checkpointInterval` has passed since the last. An empty buffer arms no timer: a
    /// device polling once a second wakes once a second for it, not four times. On
    /// cancellation it commits what is buffered and checkpoints, then returns. A failed commit
    /// ends it with that error; the readings stay buffered, and calling `run()` again retries them.
    ///
    /// Commits and checkpoints wait on the SD card: they run on `BlockingIO.storage`, not on
    /// the cooperative pool where the sensor pollers run. `flush()` stays synchronous for
    /// callers that must commit before they go on (the stop path, clock correction).
    public func run() async throws {
        do {
            while true {
                try await firstRow()
                try await clock.sleep(for: policy.interval)
                try await BlockingIO.storage.run {
                    try self.flush()
                    if self.checkpointDue() { try self.checkpoint() }
                }
            }
        } catch is CancellationError {
            try await BlockingIO.storage.run {
                try self.flush()
                try self.checkpoint()
            }
        }
    }

    /// Returns once the buffer holds a row (at once if it does), or throws on cancellation.
    private func firstRow() async throws {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    guard state.buffer.isEmpty, !Task.isCancelled else { return true }
                    state.waiter = waiter
                    return false
                }
                if now { waiter.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
        try Task.checkCancellation()
    }

    func checkpointDue() -> Bool {
        let now = clock.now().bootNanos
        return state.withLock { state in
            state.writtenSinceCheckpoint
                && now &- state.lastCheckpointNanos >= UInt64(max(0, policy.checkpointInterval.saturatingNanos))
        }
    }

    /// A PASSIVE checkpoint: syncs the WAL and copies what no reader still needs into the
    /// database file, without waiting for readers. Another process's checkpoint in progress
    /// (SQLITE_BUSY) is not an error: the next one catches up.
    func checkpoint() throws {
        let now = clock.now().bootNanos
        do {
            try database.writer.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            return
        }
        state.withLock { state in
            state.writtenSinceCheckpoint = false
            state.lastCheckpointNanos = now
        }
    }

    /// Moves every buffered, uncommitted reading to the end of `other`'s buffer: the daemon
    /// does this when the database under this store was quarantined, so readings taken
    /// before the corruption showed still land in the new store. The readings keep their
    /// order and times; `other` commits them under its own boot row (the same boot).
    /// - Returns: how many moved.
    @discardableResult
    public func moveBuffered(to other: ReadingWriter) -> Int {
        let taken = state.withLock { state in
            defer { state.buffer.removeAll() }
            return state.buffer
        }
        guard !taken.isEmpty else { return 0 }
        other.state.withLock { state in
            state.buffer.append(contentsOf: taken)
            if let waiter = state.waiter {
                state.waiter = nil
                waiter.resume()
            }
        }
        return taken.count
    }

    /// Readings already buffered but not yet committed.
    public var bufferedCount: Int { state.withLock { $0.buffer.count } }

    // MARK: - Clock correction

    /// Re-stamps this boot's clock-unsynced readings from the monotonic clock, now that
    /// the wall clock is trusted: `ts = now.unixMillis − (now.bootNanos − boot_ns) / 10⁶`.
    /// Their measured quality (ok, filtered, suspect) was kept all along. Readings of an earlier
    /// boot cannot be placed on this boot's clock and stay flagged.
    ///
    /// Call it when the clock reports synchronised or `ClockWatch` sees a forward jump.
    /// - Returns: the number of readings corrected.
    @discardableResult
    public func synchronizeClock() throws -> Int {
        try flush()
        let now = clock.now()
        return try database.writer.write { db in
            try db.execute(
                sql: """
                    UPDATE readings SET ts_ms = ? - (? - boot_ns) / 1000000, clock_unsynced = 0
                    WHERE clock_unsynced = 1 AND boot_id = ?
                    """,
                arguments: [now.unixMillis, Int64(clamping: now.bootNanos), bootRow])
            return db.changesCount
        }
    }
}
