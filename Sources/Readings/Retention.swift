import EdgeCore
import GRDB

/// How much history the device keeps. Every limit is optional; nil keeps everything.
public struct RetentionPolicy: Sendable, Hashable {
    /// Readings older than this go, judged only on timestamps taken with a synchronised clock.
    public var maxAge: Duration?
    /// Bytes the database may occupy on disk, WAL and shared-memory file included.
    public var byteBudget: Int64?
    /// Free bytes the filesystem must keep; below it, readings are dropped as for the budget.
    public var freeSpaceFloor: Int64?

    public init(maxAge: Duration? = nil, byteBudget: Int64? = nil, freeSpaceFloor: Int64? = nil) {
        self.maxAge = maxAge
        self.byteBudget = byteBudget
        self.freeSpaceFloor = freeSpaceFloor
    }
}

/// Why readings were dropped; the raw value is what health reports carry.
public enum DropReason: String, Sendable, Hashable, CaseIterable, Codable {
    case age
    /// For the byte budget or free-space floor; the server already had them.
    case budgetSynced = "budget-synced"
    /// For the byte budget or free-space floor, before the server had them: data lost.
    case budgetUnsynced = "budget-unsynced"
    /// For the byte budget or free-space floor on a device with sync off: no server was to
    /// have them, so they are neither "synced" nor waiting for one.
    case budgetSyncOff = "budget-sync-off"
    /// Taken while the database could not be written, and not kept: the in-memory buffer
    /// that holds readings until storage comes back was full (docs/STORAGE.md).
    case storageDown = "storage-down"
}

/// Every reading ever dropped from one sensor for one reason, with the time range they covered.
/// Cumulative since the store was created, so reporting it again is harmless.
public struct DropCount: Sendable, Hashable, Codable {
    public var sensorID: String
    public var reason: DropReason
    public var count: Int64
    public var firstMillis: Int64
    public var lastMillis: Int64

    public init(sensorID: String, reason: DropReason, count: Int64, firstMillis: Int64, lastMillis: Int64) {
        self.sensorID = sensorID
        self.reason = reason
        self.count = count
        self.firstMillis = firstMillis
        self.lastMillis = lastMillis
    }
}

/// What one `enforceRetention` call did.
public struct RetentionReport: Sendable, Hashable {
    public var droppedByAge = 0
    public var droppedSynced = 0
    public var droppedUnsynced = 0
    /// Dropped for the budget or floor with sync off (`syncedThrough` nil).
    public var droppedSyncOff = 0
    public var bytesBefore: Int64 = 0
    public var bytesAfter: Int64 = 0
    /// False when every reading is gone and the file is still over the budget (other
    /// stages' tables, or a floor the disk cannot meet by deleting readings).
    public var budgetMet = true

    public init() {}
}

extension ReadingWriter {
    /// Applies `policy`, oldest first.
    ///
    /// Age: only a synchronised clock judges age, and only timestamps taken with one count.
    /// The cut is the newest such reading older than `maxAge`; every reading with a lower
    /// sequence went in before it and goes too, clock-unsynced ones included. Age never drops
    /// a reading the server has not acknowledged (above `syncedThrough`): only the budget may,
    /// and counts it as lost. Without a server, pass nil: age then drops whatever is old, and
    /// the budget counts its drops as `budget-sync-off`, not as synced.
    ///
    /// Budget and floor: readings go in sequence order, which is insertion order whatever the
    /// clock said, so rows at or below `syncedThrough` (already on the server) go before any
    /// unsynced row. Freed pages go back to the filesystem (`incremental_vacuum` and a
    /// TRUNCATE checkpoint), and the result is measured on disk, not estimated.
    ///
    /// Every dropped reading is counted per sensor and reason in `dropped_readings`.
    public func enforceRetention(_ policy: RetentionPolicy, syncedThrough: Int64?) throws -> RetentionReport {
        try flush()
        var report = RetentionReport()
        report.bytesBefore = database.bytesOnDisk()
        let now = clock.now()
        if let maxAge = policy.maxAge, now.synchronized {
            let (difference, overflow) = now.unixMillis.subtractingReportingOverflow(maxAge.saturatingMillis)
            let cutoff = overflow ? Int64.min : difference
            report.droppedByAge = try database.writer.write { db in
                var cut: Int64 = 0
                for series in try Int64.fetchAll(db, sql: "SELECT id FROM series") {
                    let newest = try Int64.fetchOne(
                        db,
                        sql: "SELECT max(sequence) FROM readings WHERE series_id = ? AND ts_ms < ? AND clock_unsynced = 0",
                        arguments: [series, cutoff])
                    cut = max(cut, newest ?? 0)
                }
                cut = min(cut, syncedThrough ?? .max)
                return cut > 0 ? try Self.drop(1...cut, reason: .age, db) : 0
            }
        }

        var target = policy.byteBudget
        if let floor = policy.freeSpaceFloor, let free = database.freeBytesOnFilesystem(), free < floor {
            let floorTarget = try compactedBytes() - (floor - free)
            target = min(target ?? floorTarget, floorTarget)
        }
        if let target {
            while true {
                let used = try compactedBytes()
                if used <= target { break }
                let (rows, liveBytes) = try database.writer.read { db in
                    (
                        try Int64.fetchOne(db, sql: "SELECT count(*) FROM readings") ?? 0,
                        try Int64.fetchOne(db, sql: "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count, pragma_freelist_count, pragma_page_size") ?? 0
                    )
                }
                guard rows > 0 else {
                    report.budgetMet = false
                    break
                }
                // Bytes per row including every other table overestimates a row's share, so
                // this drops too few rather than too many; the loop measures and goes on.
                // At least 64 rows a round, about a page of rows, so rounds free pages.
                let perRow = max(1, liveBytes / rows)
                let count = min(rows, max(64, (used - target + perRow - 1) / perRow))
                let (synced, unsynced, syncOff) = try database.writer.write { db in
                    let first = try Int64.fetchOne(db, sql: "SELECT min(sequence) FROM readings")!
                    let cut = try Int64.fetchOne(
                        db, sql: "SELECT sequence FROM readings ORDER BY sequence LIMIT 1 OFFSET ?", arguments: [count - 1])!
                    guard let syncedThrough else {
                        return (0, 0, try Self.drop(first...cut, reason: .budgetSyncOff, db))
                    }
                    let synced = first <= syncedThrough
                        ? try Self.drop(first...min(cut, syncedThrough), reason: .budgetSynced, db) : 0
                    let unsynced = cut > syncedThrough
                        ? try Self.drop(max(first, syncedThrough + 1)...cut, reason: .budgetUnsynced, db) : 0
                    return (synced, unsynced, 0)
                }
                report.droppedSynced += synced
                report.droppedUnsynced += unsynced
                report.droppedSyncOff += syncOff
            }
        } else if report.droppedByAge > 0 {
            _ = try compactedBytes()
        }
        report.bytesAfter = database.bytesOnDisk()
        return report
    }

    /// Counts, then deletes, the readings whose sequence is in `range`.
    private static func drop(_ range: ClosedRange<Int64>, reason: DropReason, _ db: Database) throws -> Int {
        try db.execute(
            sql: """
                INSERT INTO dropped_readings (sensor_id, reason, count, first_ts_ms, last_ts_ms)
                SELECT s.sensor_id, ?, count(*), min(r.ts_ms), max(r.ts_ms)
                FROM readings r JOIN series s ON s.id = r.series_id
                WHERE r.sequence BETWEEN ? AND ?
                GROUP BY s.sensor_id
                ON CONFLICT (sensor_id, reason) DO UPDATE SET
                    count = count + excluded.count,
                    first_ts_ms = min(first_ts_ms, excluded.first_ts_ms),
                    last_ts_ms = max(last_ts_ms, excluded.last_ts_ms)
                """,
            arguments: [reason.rawValue, range.lowerBound, range.upperBound])
        try db.execute(
            sql: "DELETE FROM readings WHERE sequence BETWEEN ? AND ?",
            arguments: [range.lowerBound, range.upperBound])
        return db.changesCount
    }

    /// Gives free pages back to the filesystem and empties the WAL, then measures: the pages
    /// in use (what the main file shrinks to) plus the `-wal` and `-shm` files as they are.
    /// A reader that keeps the WAL busy leaves it as it is: its bytes still count.
    private func compactedBytes() throws -> Int64 {
        let livePages = try database.writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA incremental_vacuum")
            do {
                _ = try db.checkpoint(.truncate)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {}
            return try Int64.fetchOne(
                db, sql: "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count, pragma_freelist_count, pragma_page_size"
            ) ?? 0
        }
        return livePages + database.bytesOnDisk(suffixes: ["-wal", "-shm"])
    }

    /// Adds drops counted outside the database (readings the daemon could not keep while
    /// storage was down) to `dropped_readings`, in one transaction.
    public func recordDrops(_ drops: [DropCount]) throws {
        guard !drops.isEmpty else { return }
        try database.writer.write { db in
            for drop in drops {
                try db.execute(
                    sql: """
                        INSERT INTO dropped_readings (sensor_id, reason, count, first_ts_ms, last_ts_ms)
                        VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (sensor_id, reason) DO UPDATE SET
                            count = count + excluded.count,
                            first_ts_ms = min(first_ts_ms, excluded.first_ts_ms),
                            last_ts_ms = max(last_ts_ms, excluded.last_ts_ms)
                        """,
                    arguments: [drop.sensorID, drop.reason.rawValue, drop.count, drop.firstMillis, drop.lastMillis])
            }
        }
    }
}

extension ReadingQueries {
    /// Every drop ever recorded, ordered by sensor id, then reason.
    public func dropCounts() throws -> [DropCount] {
        try database.writer.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT sensor_id, reason, count, first_ts_ms, last_ts_ms FROM dropped_readings ORDER BY sensor_id, reason"
            ).map { row in
                DropCount(
                    sensorID: row[0], reason: DropReason(rawValue: row[1]) ?? .budgetUnsynced, count: row[2],
                    firstMillis: row[3], lastMillis: row[4])
            }
        }
    }
}
