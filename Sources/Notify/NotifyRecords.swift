import GRDB
import NotifyDelivery
import Wire

// One record type per Notify table, and only it writes there (GRDB's recommended practice,
// as in AlertEngine): `NotifyCursorRecord` → notify_cursor, `NotifyDeadLetterRecord` →
// notify_dead_letter, `NotifyRepeatRecord` → notify_repeat, `NotifySentAheadRecord` → notify_sent_ahead. `NotifyLedger` is their only user and owns the transactions.

/// One target's position in the alert event log and its delivery counters.
///
/// `delivered_through` is the highest event sequence the target is done with: delivered, or
/// dead-lettered (the letter then holds the range). `in_flight_first/last` is the range of the
/// message being attempted, written before the first attempt: after a crash the same range
/// goes again, under the same idempotency key, instead of a regrouped one the receiver
/// could not recognise as a duplicate.
struct NotifyCursorRecord: FetchableRecord, Hashable {
    static let databaseTableName = "notify_cursor"
    var target: String
    var deliveredThrough: Int64
    var inFlight: SequenceRange?
    var lastDeliveredMillis: Int64?
    var messagesSent: Int
    var eventsSent: Int
    var retries: Int
    var lastError: String?
    var lastErrorMillis: Int64?
    var nextAttemptMillis: Int64?
    var recentSentMillis: [Int64]

    init(row: Row) {
        target = row["target"]
        deliveredThrough = row["delivered_through"]
        let first: Int64? = row["in_flight_first"]
        let last: Int64? = row["in_flight_last"]
        inFlight = first.flatMap { first in last.map { SequenceRange(first: first, last: $0) } }
        lastDeliveredMillis = row["last_delivered_ms"]
        messagesSent = row["messages_sent"]
        eventsSent = row["events_sent"]
        retries = row["retries"]
        lastError = row["last_error"]
        lastErrorMillis = row["last_error_ms"]
        nextAttemptMillis = row["next_attempt_ms"]
        let recent: String = row["recent_sent_ms"]
        recentSentMillis = recent.split(separator: ",").compactMap { Int64($0) }
    }

    static func find(_ db: Database, _ target: String) throws -> NotifyCursorRecord? {
        try fetchOne(db, sql: "SELECT * FROM notify_cursor WHERE target = ?", arguments: [target])
    }

    /// A cursor for a new target starts after `sequence`; an existing one is left alone.
    static func insertIfMissing(_ db: Database, _ target: String, startAfter sequence: Int64) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO notify_cursor (target, delivered_through) VALUES (?, ?)",
                       arguments: [target, sequence])
    }

    static func setInFlight(_ db: Database, _ target: String, _ range: SequenceRange) throws {
        try db.execute(sql: "UPDATE notify_cursor SET in_flight_first = ?, in_flight_last = ? WHERE target = ?",
                       arguments: [range.first, range.last, target])
    }

    /// Past `range` and nothing in flight; `events` counts toward the delivery counters
    /// (0 for a dead letter, whose events were not delivered).
    static func advance(_ db: Database, _ target: String, through last: Int64, events: Int, nowMillis: Int64?) throws {
        try db.execute(sql: """
            UPDATE notify_cursor SET delivered_through = max(delivered_through, ?),
                in_flight_first = NULL, in_flight_last = NULL,
                last_delivered_ms = coalesce(?, last_delivered_ms),
                messages_sent = messages_sent + (? > 0), events_sent = events_sent + ?
            WHERE target = ?
            """, arguments: [last, nowMillis, events, events, target])
    }

    /// Appends a send time for the rate cap, keeping the newest `keep`.
    static func recordSend(_ db: Database, _ target: String, atMillis: Int64, keep: Int) throws {
        guard let record = try find(db, target) else { return }
        let recent = (record.recentSentMillis + [atMillis]).suffix(max(keep, 1))
        try db.execute(sql: "UPDATE notify_cursor SET recent_sent_ms = ? WHERE target = ?",
                       arguments: [recent.map(String.init).joined(separator: ","), target])
    }

    /// A message outside the cursor's ranges went through (a re-queued dead letter, a
    /// repeat): counted, the cursor stays where it is.
    static func countRedelivery(_ db: Database, _ target: String, events: Int, nowMillis: Int64) throws {
        try db.execute(sql: """
            UPDATE notify_cursor SET messages_sent = messages_sent + 1, events_sent = events_sent + ?, last_delivered_ms = ?
            WHERE target = ?
            """, arguments: [events, nowMillis, target])
    }

    static func setOutcome(_ db: Database, _ target: String, error: String?, atMillis: Int64?,
                           nextAttemptMillis: Int64?, countRetry: Bool) throws {
        try db.execute(sql: """
            UPDATE notify_cursor SET last_error = ?, last_error_ms = ?, next_attempt_ms = ?, retries = retries + ?
            WHERE target = ?
            """, arguments: [error, atMillis, nextAttemptMillis, countRetry ? 1 : 0, target])
    }
}

/// One message a service refused for good. The events stay in `alert_events`; a re-queued
/// letter is sent again on its own (`redelivered_at_ms` then set), without moving the target's
/// cursor back, so the events delivered after it are not sent twice.
struct NotifyDeadLetterRecord: FetchableRecord, Hashable {
    static let databaseTableName = "notify_dead_letter"
    var id: Int64
    var target: String
    var range: SequenceRange
    var status: Int
    var reason: String
    var atMillis: Int64
    var requeuedAtMillis: Int64?
    var redeliveredAtMillis: Int64?

    init(row: Row) {
        id = row["id"]
        target = row["target"]
        range = SequenceRange(first: row["first_sequence"], last: row["last_sequence"])
        status = row["status"]
        reason = row["reason"]
        atMillis = row["at_ms"]
        requeuedAtMillis = row["requeued_at_ms"]
        redeliveredAtMillis = row["redelivered_at_ms"]
    }

    static func insert(_ db: Database, target: String, range: SequenceRange, status: Int, reason: String,
                       atMillis: Int64) throws {
        try db.execute(sql: """
            INSERT INTO notify_dead_letter (target, first_sequence, last_sequence, status, reason, at_ms)
            VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [target, range.first, range.last, status, reason, atMillis])
    }

    /// Letters nobody has re-queued yet, oldest first.
    static func open(_ db: Database, _ target: String) throws -> [NotifyDeadLetterRecord] {
        try fetchAll(db, sql: "SELECT * FROM notify_dead_letter WHERE target = ? AND requeued_at_ms IS NULL ORDER BY id",
                     arguments: [target])
    }

    /// Letters re-queued and not yet delivered, oldest first: the pipeline's work before new events.
    static func requeued(_ db: Database, _ target: String) throws -> [NotifyDeadLetterRecord] {
        try fetchAll(db, sql: """
            SELECT * FROM notify_dead_letter
            WHERE target = ? AND requeued_at_ms IS NOT NULL AND redelivered_at_ms IS NULL ORDER BY id
            """, arguments: [target])
    }

    /// Marks every open letter of `target` re-queued; how many there were.
    static func requeueAll(_ db: Database, _ target: String, atMillis: Int64) throws -> Int {
        try db.execute(sql: "UPDATE notify_dead_letter SET requeued_at_ms = ? WHERE target = ? AND requeued_at_ms IS NULL",
                       arguments: [atMillis, target])
        return db.changesCount
    }

    /// A re-queued letter refused again goes back to open, with the new answer.
    static func reopen(_ db: Database, id: Int64, status: Int, reason: String, atMillis: Int64) throws {
        try db.execute(sql: """
            UPDATE notify_dead_letter SET requeued_at_ms = NULL, status = ?, reason = ?, at_ms = ? WHERE id = ?
            """, arguments: [status, reason, atMillis, id])
    }

    static func markRedelivered(_ db: Database, id: Int64, atMillis: Int64) throws {
        try db.execute(sql: "UPDATE notify_dead_letter SET redelivered_at_ms = ? WHERE id = ?", arguments: [atMillis, id])
    }
}

/// When one target last reminded its person of one rule. Only the newest time matters:
/// `RepeatSchedule` ignores a time from before the current episode began.
struct NotifyRepeatRecord {
    static let databaseTableName = "notify_repeat"

    static func lastSent(_ db: Database, _ target: String) throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT rule_id, last_sent_ms FROM notify_repeat WHERE target = ?", arguments: [target]) {
            result[row[0]] = row[1]
        }
        return result
    }

    static func save(_ db: Database, _ target: String, _ ruleID: String, atMillis: Int64) throws {
        try db.execute(sql: """
            INSERT INTO notify_repeat (target, rule_id, last_sent_ms) VALUES (?, ?, ?)
            ON CONFLICT (target, rule_id) DO UPDATE SET last_sent_ms = max(last_sent_ms, excluded.last_sent_ms)
            """, arguments: [target, ruleID, atMillis])
    }
}

/// An event sent ahead of the cursor (a critical or fail-safe event behind a backlog of
/// lesser ones). Kept until the cursor passes it, so at most the pending window's worth.
struct NotifySentAheadRecord {
    static let databaseTableName = "notify_sent_ahead"

    static func sequences(_ db: Database, _ target: String) throws -> Set<Int64> {
        Set(try Int64.fetchAll(db, sql: "SELECT sequence FROM notify_sent_ahead WHERE target = ?", arguments: [target]))
    }

    static func insert(_ db: Database, _ target: String, _ sequence: Int64) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO notify_sent_ahead (target, sequence) VALUES (?, ?)", arguments: [target, sequence])
    }

    /// The cursor moved past `last`: those are history now.
    static func forget(_ db: Database, _ target: String, through last: Int64) throws {
        try db.execute(sql: "DELETE FROM notify_sent_ahead WHERE target = ? AND sequence <= ?", arguments: [target, last])
    }
}
