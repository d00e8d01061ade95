import GRDB
import GRDBSQLite

extension ReadingWriter {
    /// Series ids first seen in this transaction; cached only once it has committed.
    ///
    /// The hot path of ingest. Values are bound with the sqlite3 C calls on GRDB's prepared
    /// statement rather than through `StatementArguments`: building and validating an array
    /// of existentials per row cost more instructions than SQLite's own insert (callgrind,
    /// docs/BENCHMARKS.md). `execute()` still runs through GRDB, so its transaction
    /// observers see every insert.
    func insert(_ rows: [Pending], known: [SeriesKey: Int64], _ db: Database) throws -> [SeriesKey: Int64] {
        var learned: [SeriesKey: Int64] = [:]
        var lastSequence: [Int64: Int64] = [:]
        let statement = try db.cachedStatement(sql: """
            INSERT INTO readings (series_id, ts_ms, value, quality, clock_unsynced, boot_id, boot_ns)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        // Marks the statement's arguments as bound, so `execute()` only resets and steps.
        statement.setUncheckedArguments([0, 0, 0.0, 0, 0, bootRow, 0])
        let handle = statement.sqliteStatement
        for row in rows {
            let seriesID: Int64
            if let id = known[row.series] ?? learned[row.series] {
                seriesID = id
            } else {
                seriesID = try Self.seriesID(row.series, db)
                learned[row.series] = seriesID
            }
            // A statement that ran must be reset before it accepts new bindings; bootRow
            // (parameter 6) stays bound from above.
            sqlite3_reset(handle)
            try Self.bound(sqlite3_bind_int64(handle, 1, seriesID), statement, db)
            try Self.bound(sqlite3_bind_int64(handle, 2, row.millis), statement, db)
            try Self.bound(sqlite3_bind_double(handle, 3, row.value), statement, db)
            try Self.bound(sqlite3_bind_int64(handle, 4, row.quality), statement, db)
            try Self.bound(sqlite3_bind_int64(handle, 5, row.clockUnsynced ? 1 : 0), statement, db)
            try Self.bound(sqlite3_bind_int64(handle, 7, row.bootNanos), statement, db)
            try statement.execute()
            lastSequence[seriesID] = sqlite3_last_insert_rowid(db.sqliteConnection)
        }
        let update = try db.cachedStatement(sql: "UPDATE series SET last_sequence = ? WHERE id = ?")
        for (seriesID, sequence) in lastSequence {
            try update.execute(arguments: [sequence, seriesID])
        }
        return learned
    }

    private static func bound(_ code: CInt, _ statement: Statement, _ db: Database) throws {
        guard code == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage, sql: statement.sql)
        }
    }

    private static func seriesID(_ key: SeriesKey, _ db: Database) throws -> Int64 {
        try db.execute(
            sql: "INSERT INTO series (sensor_id, unit) VALUES (?, ?) ON CONFLICT DO NOTHING",
            arguments: [key.sensorID, key.unit])
        return try Int64.fetchOne(
            db, sql: "SELECT id FROM series WHERE sensor_id = ? AND unit = ?",
            arguments: [key.sensorID, key.unit])!
    }
}
