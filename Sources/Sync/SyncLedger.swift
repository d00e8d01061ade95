import EdgeCore
import GRDB
import Logging
import Readings
import Wire

/// The two streams a device sends, each with its own sequence numbers and cursor.
public enum SyncStream: String, Sendable, Hashable, CaseIterable, Codable {
    case readings, events
}

/// Sync's tables in the shared database: cursors, the dead-letter table and the last
/// outcome, so that `edge-agent status` in another process reads the same state the
/// daemon acts on.
///
/// A cursor has two positions. `acked_through` moves only on the server's `SyncAck`, in
/// the transaction that records the acknowledgement. `skipped_through` moves only when a
/// batch is quarantined, in the transaction that writes its dead letter. The next batch
/// starts after the greater of the two; retention may drop only what is acknowledged and
/// below every open dead letter (`retentionFloor`).
struct SyncLedger: Sendable {
    let writer: DatabasePool

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("sync-v1") { db in
            try db.execute(sql: """
                CREATE TABLE sync_cursor (
                    stream TEXT PRIMARY KEY,
                    acked_through INTEGER NOT NULL DEFAULT 0,
                    skipped_through INTEGER NOT NULL DEFAULT 0,
                    last_ack_ms INTEGER,
                    batches_acked INTEGER NOT NULL DEFAULT 0,
                    rows_inserted INTEGER NOT NULL DEFAULT 0,
                    rows_duplicate INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID;
                INSERT INTO sync_cursor (stream) VALUES ('readings'), ('events');
                -- One row per quarantined batch; the rows themselves stay in their tables.
                CREATE TABLE sync_dead_letter (
                    id INTEGER PRIMARY KEY,
                    readings_first INTEGER, readings_last INTEGER,
                    events_first INTEGER, events_last INTEGER,
                    http_status INTEGER NOT NULL,
                    reason TEXT NOT NULL,
                    at_ms INTEGER NOT NULL,
                    requeued_at_ms INTEGER
                );
                CREATE TABLE sync_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    last_success_ms INTEGER,
                    last_error TEXT,
                    last_error_ms INTEGER,
                    consecutive_failures INTEGER NOT NULL DEFAULT 0,
                    next_attempt_ms INTEGER,
                    last_health_ms INTEGER
                );
                INSERT INTO sync_state (id) VALUES (1);
                """)
        }
        return migrator
    }()

    /// Reasons are the server's text; bounded so that a misbehaving proxy cannot grow the file.
    static let maxReasonLength = 500

    init(writer: DatabasePool) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
    }

    /// For reading only (the CLI on a read-only database): nothing is created or migrated.
    /// Nil when sync has never run on this database.
    init?(existing writer: DatabasePool) throws {
        guard try writer.read({ db in try db.tableExists("sync_state") }) else { return nil }
        self.writer = writer
    }

    struct Cursor: Sendable, Hashable {
        var ackedThrough: Int64
        var skippedThrough: Int64
        /// Where the next batch of this stream starts (exclusive).
        var position: Int64 { max(ackedThrough, skippedThrough) }
    }

    func cursors() throws -> [SyncStream: Cursor] {
        try writer.read { db in try Self.cursors(db) }
    }

    static func cursors(_ db: Database) throws -> [SyncStream: Cursor] {
        var result: [SyncStream: Cursor] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT stream, acked_through, skipped_through FROM sync_cursor") {
            if let stream = SyncStream(rawValue: row[0]) {
                result[stream] = Cursor(ackedThrough: row[1], skippedThrough: row[2])
            }
        }
        return result
    }

    /// Records an acknowledgement: cursors, counters and the success, in one transaction.
    func recordAck(_ ack: SyncAck, healthSent: Bool, nowMillis: Int64) throws {
        try writer.write { db in
            for (stream, streamAck) in [(SyncStream.readings, ack.readings), (.events, ack.events)] {
                guard let streamAck else { continue }
                try db.execute(sql: """
                    UPDATE sync_cursor SET acked_through = max(acked_through, ?), last_ack_ms = ?,
                        batches_acked = batches_acked + 1, rows_inserted = rows_inserted + ?,
                        rows_duplicate = rows_duplicate + ?
                    WHERE stream = ?
                    """, arguments: [streamAck.range.last, nowMillis, streamAck.inserted, streamAck.duplicates, stream.rawValue])
            }
            try db.execute(sql: """
                UPDATE sync_state SET last_success_ms = ?, consecutive_failures = 0, next_attempt_ms = NULL,
                    last_health_ms = CASE WHEN ? THEN ? ELSE last_health_ms END
                WHERE id = 1
                """, arguments: [nowMillis, healthSent, nowMillis])
        }
    }

    /// Writes the dead letter and moves the skip positions past the batch, in one transaction.
    func quarantine(readings: SequenceRange?, events: SequenceRange?, status: Int, reason: String, nowMillis: Int64) throws {
        let reason = String(reason.prefix(Self.maxReasonLength))
        try writer.write { db in
            try db.execute(sql: """
                INSERT INTO sync_dead_letter (readings_first, readings_last, events_first, events_last, http_status, reason, at_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [readings?.first, readings?.last, events?.first, events?.last, status, reason, nowMillis])
            for (stream, range) in [(SyncStream.readings, readings), (.events, events)] {
                guard let range else { continue }
                try db.execute(sql: "UPDATE sync_cursor SET skipped_through = max(skipped_through, ?) WHERE stream = ?",
                               arguments: [range.last, stream.rawValue])
            }
            try db.execute(sql: """
                UPDATE sync_state SET last_error = ?, last_error_ms = ?, consecutive_failures = 0, next_attempt_ms = NULL
                WHERE id = 1
                """, arguments: ["quarantined (HTTP \(status)): \(reason)", nowMillis])
        }
    }

    func recordFailure(_ reason: String, nowMillis: Int64, failures: Int, nextAttemptMillis: Int64) throws {
        try writer.write { db in
            try db.execute(sql: """
                UPDATE sync_state SET last_error = ?, last_error_ms = ?, consecutive_failures = ?, next_attempt_ms = ?
                WHERE id = 1
                """, arguments: [String(reason.prefix(Self.maxReasonLength)), nowMillis, failures, nextAttemptMillis])
        }
    }

    /// Sends every open dead letter's rows again: each stream's positions go back to just
    /// before its lowest open dead letter, and the letters are marked re-queued. Rows the
    /// server already holds in between come back as duplicates and are ignored there.
    /// - Returns: the number of dead letters re-queued.
    func requeueDeadLetters(nowMillis: Int64) throws -> Int {
        try writer.write { db in
            for (stream, column) in [(SyncStream.readings, "readings_first"), (.events, "events_first")] {
                guard let first = try Int64.fetchOne(
                    db, sql: "SELECT min(\(column)) FROM sync_dead_letter WHERE requeued_at_ms IS NULL") else { continue }
                try db.execute(sql: """
                    UPDATE sync_cursor SET acked_through = min(acked_through, ?), skipped_through = min(skipped_through, ?)
                    WHERE stream = ?
                    """, arguments: [first - 1, first - 1, stream.rawValue])
            }
            try db.execute(sql: "UPDATE sync_dead_letter SET requeued_at_ms = ? WHERE requeued_at_ms IS NULL", arguments: [nowMillis])
            return db.changesCount
        }
    }

    /// Both streams from the start, for a store that took a new identity: the cursors go
    /// back to 0 and open dead letters are marked re-queued (their rows go again with the rest).
    func startOver(nowMillis: Int64) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE sync_cursor SET acked_through = 0, skipped_through = 0")
            try db.execute(sql: "UPDATE sync_dead_letter SET requeued_at_ms = ? WHERE requeued_at_ms IS NULL", arguments: [nowMillis])
        }
    }

    /// The highest reading sequence retention may treat as on the server: acknowledged,
    /// and below every open dead letter (those rows must stay until re-queued).
    func retentionFloor() throws -> Int64 {
        try writer.read { db in
            let acked = try Int64.fetchOne(db, sql: "SELECT acked_through FROM sync_cursor WHERE stream = 'readings'") ?? 0
            let lowestDead = try Int64.fetchOne(
                db, sql: "SELECT min(readings_first) FROM sync_dead_letter WHERE requeued_at_ms IS NULL")
            return lowestDead.map { min(acked, $0 - 1) } ?? acked
        }
    }
}

extension SyncLedger {
    /// A readings cursor past the highest sequence the store ever issued means readings the
    /// server holds were lost here (a restored or damaged file) and their sequences will be
    /// issued again: the store takes a new identity, so new readings cannot be mistaken for
    /// the old ones, and both streams are sent again from the start under it. Which rows the
    /// server already has cannot be known any more; sending them again under the new identity
    /// may store some twice (under two store ids) but loses none. Checked when the engine is
    /// created, before readings of this run reach the old cursor, and before every batch.
    /// - Returns: whether the identity changed.
    func takeNewIdentityIfSequencesWentBackwards(database: LocalDatabase, readings: any SyncReadingSource,
                                                 now: DeviceTime, logger: Logger) throws -> Bool {
        let acked = try cursors()[.readings]?.position ?? 0
        let issued = try readings.highestSequenceIssued()
        guard acked > issued else { return false }
        let reason = "the sync ledger has readings through #\(acked) on the server but this store has issued only through #\(issued)"
        let newID = try database.startNewStoreIdentity(reason: reason)
        try startOver(nowMillis: now.unixMillis)
        logger.error("store sequences went backwards; took a new store identity", metadata: [
            "reason": "\(reason)", "store_id": "\(newID)"])
        return true
    }
}
