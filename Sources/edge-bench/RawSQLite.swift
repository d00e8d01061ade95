import GRDBSQLite

/// The physical limit for local ingest: the sqlite3 C API with one prepared statement,
/// bound and stepped per row, one transaction per batch. No Swift wrapper in between.
final class RawSQLite {
    private var handle: OpaquePointer?

    init(path: String) throws {
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK else {
            defer { sqlite3_close_v2(handle) }
            throw BenchError("sqlite3_open_v2 \(path): \(String(cString: sqlite3_errmsg(handle)))")
        }
    }

    deinit { sqlite3_close_v2(handle) }

    func execute(_ sql: String) throws {
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw error(sql) }
    }

    func int64(_ sql: String) throws -> Int64 {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { throw error(sql) }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW else { throw error(sql) }
        return sqlite3_column_int64(statement, 0)
    }

    /// Inserts the rows in transactions of `batch` rows each through one prepared statement.
    func insert(_ rows: IngestRows, seriesIDs: [Int64], bootRow: Int64, batch: Int) throws {
        let sql = """
            INSERT INTO readings (series_id, ts_ms, value, quality, clock_unsynced, boot_id, boot_ns)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK else {
            throw error(sql)
        }
        defer { sqlite3_finalize(statement) }
        var index = 0
        while index < rows.count {
            try execute("BEGIN")
            let end = min(index + batch, rows.count)
            while index < end {
                let row = rows[index]
                sqlite3_bind_int64(statement, 1, seriesIDs[row.sensor])
                sqlite3_bind_int64(statement, 2, row.time.unixMillis)
                sqlite3_bind_double(statement, 3, row.value)
                sqlite3_bind_int64(statement, 4, 0)
                sqlite3_bind_int64(statement, 5, 0)
                sqlite3_bind_int64(statement, 6, bootRow)
                sqlite3_bind_int64(statement, 7, Int64(row.time.bootNanos))
                guard sqlite3_step(statement) == SQLITE_DONE else { throw error("step") }
                sqlite3_reset(statement)
                index += 1
            }
            try execute("COMMIT")
        }
    }

    private func error(_ context: String) -> BenchError {
        BenchError("sqlite3 \(context.prefix(60)): \(String(cString: sqlite3_errmsg(handle)))")
    }
}
