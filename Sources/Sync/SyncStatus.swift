import GRDB
import Readings
import Wire

/// The sync state `edge-agent status` prints. Read from the database, so a CLI process sees
/// what the daemon last recorded.
public struct SyncStatus: Sendable, Hashable {
    public struct Stream: Sendable, Hashable {
        /// The highest sequence the server has acknowledged.
        public var ackedThrough: Int64
        /// The highest sequence moved past by quarantine (see `deadLetters`).
        public var skippedThrough: Int64
        public var backlogRows: Int
        public var backlogOldestMillis: Int64?
        public var lastAckMillis: Int64?
        public var batchesAcked: Int
        public var rowsInserted: Int
        public var rowsDuplicate: Int
    }

    public var readings: Stream
    public var events: Stream
    public var lastSuccessMillis: Int64?
    public var lastError: String?
    public var lastErrorMillis: Int64?
    public var consecutiveFailures: Int
    /// When the daemon will try again after a failure (wall clock).
    public var nextAttemptMillis: Int64?
    /// Dead letters not yet re-queued.
    public var deadLetters: [DeadLetter]
}

extension SyncStatus {
    /// The state the daemon last recorded, for a CLI process that has no transport; nil when
    /// sync has never run on this database. Reads only: works on `LocalDatabase.openReadOnly`.
    public static func read(database: LocalDatabase, readings: any SyncReadingSource, events: (any SyncEventSource)?) throws -> SyncStatus? {
        try SyncLedger(existing: database.writer)?.status(readings: readings, events: events)
    }
}

/// A batch the server refused for good (a 4xx other than 401, 403, 408, 413, 429). Its rows
/// are still in the local database; `SyncEngine.requeueDeadLetters()` sends them again.
public struct DeadLetter: Sendable, Hashable {
    public var id: Int64
    public var readings: SequenceRange?
    public var events: SequenceRange?
    public var httpStatus: Int
    public var reason: String
    public var atMillis: Int64
}

extension SyncLedger {
    func status(readings: any SyncReadingSource, events: (any SyncEventSource)?) throws -> SyncStatus {
        let (cursorRows, stateRow, letters) = try writer.read { db in
            (try Row.fetchAll(db, sql: "SELECT * FROM sync_cursor"),
             try Row.fetchOne(db, sql: "SELECT * FROM sync_state WHERE id = 1")!,
             try Row.fetchAll(db, sql: "SELECT * FROM sync_dead_letter WHERE requeued_at_ms IS NULL ORDER BY id"))
        }
        func stream(_ name: SyncStream) throws -> SyncStatus.Stream {
            let row = cursorRows.first { $0["stream"] == name.rawValue }!
            let acked: Int64 = row["acked_through"]
            let skipped: Int64 = row["skipped_through"]
            let position = max(acked, skipped)
            let backlog: (count: Int, oldestMillis: Int64?) = name == .readings
                ? try readings.backlog(afterSequence: position)
                : (try events?.syncEventBacklog(afterSequence: position) ?? 0, nil)
            return SyncStatus.Stream(
                ackedThrough: acked, skippedThrough: skipped, backlogRows: backlog.count,
                backlogOldestMillis: backlog.oldestMillis, lastAckMillis: row["last_ack_ms"],
                batchesAcked: row["batches_acked"], rowsInserted: row["rows_inserted"], rowsDuplicate: row["rows_duplicate"])
        }
        func range(_ row: Row, _ first: String, _ last: String) -> SequenceRange? {
            guard let a: Int64 = row[first], let b: Int64 = row[last] else { return nil }
            return SequenceRange(first: a, last: b)
        }
        return SyncStatus(
            readings: try stream(.readings), events: try stream(.events),
            lastSuccessMillis: stateRow["last_success_ms"], lastError: stateRow["last_error"],
            lastErrorMillis: stateRow["last_error_ms"], consecutiveFailures: stateRow["consecutive_failures"],
            nextAttemptMillis: stateRow["next_attempt_ms"],
            deadLetters: letters.map { row in
                DeadLetter(id: row["id"], readings: range(row, "readings_first", "readings_last"),
                           events: range(row, "events_first", "events_last"), httpStatus: row["http_status"],
                           reason: row["reason"], atMillis: row["at_ms"])
            })
    }
}
