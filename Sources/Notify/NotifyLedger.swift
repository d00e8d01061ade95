import GRDB
import NotifyDelivery
import Wire

/// What `edge-agent notify status` shows for one target.
public struct NotifyCursor: Sendable, Hashable {
    public var target: String
    /// The highest event sequence this target is done with (delivered or dead-lettered).
    public var deliveredThrough: Int64
    /// The message being attempted; after a restart it is sent again before anything else.
    public var inFlight: SequenceRange?
    public var lastDeliveredMillis: Int64?
    public var messagesSent: Int
    public var eventsSent: Int
    public var retries: Int
    public var lastError: String?
    public var lastErrorMillis: Int64?
    public var nextAttemptMillis: Int64?
    /// Send times the rate cap counts (`RateWindow(cap:sentMillis:)`), ascending.
    public var recentSentMillis: [Int64]
}

/// A message a service refused for good (see `DeliveryState`).
public struct NotifyDeadLetter: Sendable, Hashable {
    public var id: Int64
    public var target: String
    public var range: SequenceRange
    /// The HTTP status, or the SMTP reply code for e-mail.
    public var status: Int
    public var reason: String
    public var atMillis: Int64
    public var requeuedAtMillis: Int64?
}

public enum NotifyLedgerError: Error, Hashable, CustomStringConvertible {
    case unknownTarget(String)

    public var description: String {
        switch self {
        case .unknownTarget(let target):
            "no notify target '\(target)' has run on this database; check the id against agent.yaml's notify: section"
        }
    }
}

/// Notify's tables in the shared database, so that the CLI in another process reads and
/// re-queues the same state the daemon acts on. Every change that moves a cursor is one
/// transaction with what justifies it (the delivery, or the dead letter): a crash leaves
/// either both or neither, and at worst the last message is sent once more, under the same
/// idempotency key (`inFlight`).
public struct NotifyLedger: Sendable {
    let writer: any DatabaseWriter

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("notify-v1") { db in
            try db.execute(sql: """
                CREATE TABLE notify_cursor (
                    target TEXT PRIMARY KEY,
                    delivered_through INTEGER NOT NULL DEFAULT 0,
                    in_flight_first INTEGER,
                    in_flight_last INTEGER,
                    last_delivered_ms INTEGER,
                    messages_sent INTEGER NOT NULL DEFAULT 0,
                    events_sent INTEGER NOT NULL DEFAULT 0,
                    retries INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT,
                    last_error_ms INTEGER,
                    next_attempt_ms INTEGER,
                    -- The rate cap's recent send times, comma-separated, at most its message count.
                    recent_sent_ms TEXT NOT NULL DEFAULT ''
                ) WITHOUT ROWID;
                CREATE TABLE notify_dead_letter (
                    id INTEGER PRIMARY KEY,
                    target TEXT NOT NULL,
                    first_sequence INTEGER NOT NULL,
                    last_sequence INTEGER NOT NULL,
                    status INTEGER NOT NULL,
                    reason TEXT NOT NULL,
                    at_ms INTEGER NOT NULL,
                    requeued_at_ms INTEGER,
                    redelivered_at_ms INTEGER
                );
                CREATE INDEX notify_dead_letter_target ON notify_dead_letter (target, requeued_at_ms);
                -- When each target last reminded its person of a still-firing rule.
                CREATE TABLE notify_repeat (
                    target TEXT NOT NULL,
                    rule_id TEXT NOT NULL,
                    last_sent_ms INTEGER NOT NULL,
                    PRIMARY KEY (target, rule_id)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("notify-v2") { db in
            try db.execute(sql: """
                -- Critical and fail-safe events sent ahead of a backlog, until the cursor passes them.
                CREATE TABLE notify_sent_ahead (
                    target TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    PRIMARY KEY (target, sequence)
                ) WITHOUT ROWID;
                """)
        }
        return migrator
    }()

    /// Services' reasons are bounded so that a misbehaving proxy cannot grow the file.
    static let maxReasonLength = 500

    public init(writer: any DatabaseWriter) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
    }

    /// For reading only (the CLI on a read-only database): nothing is created or migrated.
    /// Nil when Notify has never run on this database.
    public init?(existing writer: any DatabaseWriter) throws {
        guard try writer.read({ db in try db.tableExists("notify_cursor") }) else { return nil }
        self.writer = writer
    }

    /// Gives `target` a cursor if it has none. A target added to a device with a long history
    /// starts after `startAfter` (the newest event), rather than paging its owner with the
    /// history; an existing target keeps its position across restarts.
    public func register(target: String, startAfter: Int64) throws {
        try writer.write { db in try NotifyCursorRecord.insertIfMissing(db, target, startAfter: startAfter) }
    }

    public func cursor(target: String) throws -> NotifyCursor {
        guard let record = try writer.read({ db in try NotifyCursorRecord.find(db, target) }) else {
            throw NotifyLedgerError.unknownTarget(target)
        }
        return NotifyCursor(
            target: record.target, deliveredThrough: record.deliveredThrough, inFlight: record.inFlight,
            lastDeliveredMillis: record.lastDeliveredMillis, messagesSent: record.messagesSent,
            eventsSent: record.eventsSent, retries: record.retries, lastError: record.lastError,
            lastErrorMillis: record.lastErrorMillis, nextAttemptMillis: record.nextAttemptMillis,
            recentSentMillis: record.recentSentMillis)
    }

    /// Fixes the range of the next message before it is first sent, and returns the range to
    /// send: the one already in flight if there is one (a restart mid-attempt), else `range`.
    public func beginAttempt(target: String, range: SequenceRange) throws -> SequenceRange {
        try writer.write { db in
            guard let record = try NotifyCursorRecord.find(db, target) else { throw NotifyLedgerError.unknownTarget(target) }
            if let inFlight = record.inFlight { return inFlight }
            try NotifyCursorRecord.setInFlight(db, target, range)
            return range
        }
    }

    /// The message in flight went stale during an outage and becomes part of its summary:
    /// the range in flight grows to the summary's (same first sequence), which is then the
    /// range a crash resends.
    public func extendAttempt(target: String, to range: SequenceRange) throws {
        try writer.write { db in try NotifyCursorRecord.setInFlight(db, target, range) }
    }

    /// The service accepted the message for `range` (`events` of them after filtering): the
    /// cursor moves past it and the delivery is counted, in one transaction.
    /// - Parameter rateCap: the target's cap; the send time is kept for it (at most its
    ///   message count of times), so a restarted daemon still honours it.
    public func recordDelivery(target: String, range: SequenceRange, events: Int, nowMillis: Int64,
                               rateCap: NotifyTarget.RateCap = .default) throws {
        try writer.write { db in
            try NotifyCursorRecord.advance(db, target, through: range.last, events: events, nowMillis: nowMillis)
            try NotifySentAheadRecord.forget(db, target, through: range.last)
            try NotifyCursorRecord.recordSend(db, target, atMillis: nowMillis, keep: rateCap.messages)
            try NotifyCursorRecord.setOutcome(db, target, error: nil, atMillis: nil, nextAttemptMillis: nil, countRetry: false)
        }
    }

    /// The service refused `range` for good: the dead letter is written and the cursor moves
    /// past the range, in one transaction.
    public func recordDeadLetter(target: String, range: SequenceRange, status: Int, reason: String,
                                 nowMillis: Int64, nextAttemptMillis: Int64?) throws {
        let reason = String(reason.prefix(Self.maxReasonLength))
        try writer.write { db in
            try NotifyDeadLetterRecord.insert(db, target: target, range: range, status: status, reason: reason,
                                              atMillis: nowMillis)
            try NotifyCursorRecord.advance(db, target, through: range.last, events: 0, nowMillis: nil)
            try NotifySentAheadRecord.forget(db, target, through: range.last)
            try NotifyCursorRecord.setOutcome(db, target, error: "dead-lettered \(range) (\(status)): \(reason)",
                                              atMillis: nowMillis, nextAttemptMillis: nextAttemptMillis, countRetry: false)
        }
    }

    /// Events this target does not want (`NotifyPlan.skip`): the cursor moves past them and
    /// nothing is counted as sent.
    public func recordSkip(target: String, through last: Int64) throws {
        try writer.write { db in
            try NotifyCursorRecord.advance(db, target, through: last, events: 0, nowMillis: nil)
            try NotifySentAheadRecord.forget(db, target, through: last)
        }
    }

    /// A retryable failure: the cursor and the in-flight range stay, the error and the next
    /// attempt are recorded for status.
    public func recordFailure(target: String, reason: String, nowMillis: Int64, nextAttemptMillis: Int64) throws {
        try writer.write { db in
            try NotifyCursorRecord.setOutcome(db, target, error: String(reason.prefix(Self.maxReasonLength)),
                                              atMillis: nowMillis, nextAttemptMillis: nextAttemptMillis, countRetry: true)
        }
    }

    /// Per rule, when `target` last sent a repeat (`RepeatSchedule.due`'s `lastSentMillis`).
    public func repeatsSent(target: String) throws -> [String: Int64] {
        try writer.read { db in try NotifyRepeatRecord.lastSent(db, target) }
    }

    /// A repeat was accepted. Repeats cover no event range, so the cursor does not move;
    /// the send counts toward the rate cap like any message.
    public func recordRepeat(target: String, ruleID: String, nowMillis: Int64, rateCap: NotifyTarget.RateCap = .default) throws {
        try writer.write { db in
            try NotifyRepeatRecord.save(db, target, ruleID, atMillis: nowMillis)
            try NotifyCursorRecord.countRedelivery(db, target, events: 0, nowMillis: nowMillis)
            try NotifyCursorRecord.recordSend(db, target, atMillis: nowMillis, keep: rateCap.messages)
        }
    }

    /// A refused reminder: there is no range to dead-letter, so the refusal is shown as the
    /// last error and the rule's next reminder is a full interval away, as after a sent one.
    public func recordRepeatRefused(target: String, ruleID: String, reason: String, nowMillis: Int64,
                                    nextAttemptMillis: Int64?) throws {
        try writer.write { db in
            try NotifyRepeatRecord.save(db, target, ruleID, atMillis: nowMillis)
            try NotifyCursorRecord.setOutcome(db, target, error: "reminder of \(ruleID) refused: \(reason.prefix(Self.maxReasonLength))",
                                              atMillis: nowMillis, nextAttemptMillis: nextAttemptMillis, countRetry: false)
        }
    }

    /// Events sent ahead of the backlog (critical, fail-safe) that the cursor has not passed:
    /// the cursor's messages leave them out.
    public func sentAhead(target: String) throws -> Set<Int64> {
        try writer.read { db in try NotifySentAheadRecord.sequences(db, target) }
    }

    /// A message of events sent ahead of the cursor was accepted: they are remembered, so the
    /// cursor's messages do not send them again, and the send is counted, in one transaction.
    public func recordSentAhead(target: String, sequences: [Int64], nowMillis: Int64,
                                rateCap: NotifyTarget.RateCap = .default) throws {
        try writer.write { db in
            for sequence in sequences { try NotifySentAheadRecord.insert(db, target, sequence) }
            try NotifyCursorRecord.recordSend(db, target, atMillis: nowMillis, keep: rateCap.messages)
            try NotifyCursorRecord.countRedelivery(db, target, events: sequences.count, nowMillis: nowMillis)
            try NotifyCursorRecord.setOutcome(db, target, error: nil, atMillis: nil, nextAttemptMillis: nil, countRetry: false)
        }
    }

    /// Any other message outside the cursor's ranges (the state of what still fires after an
    /// outage) was accepted: counted toward the sent messages and the rate cap.
    public func recordNotice(target: String, nowMillis: Int64, rateCap: NotifyTarget.RateCap = .default) throws {
        try writer.write { db in
            try NotifyCursorRecord.recordSend(db, target, atMillis: nowMillis, keep: rateCap.messages)
            try NotifyCursorRecord.countRedelivery(db, target, events: 0, nowMillis: nowMillis)
            try NotifyCursorRecord.setOutcome(db, target, error: nil, atMillis: nil, nextAttemptMillis: nil, countRetry: false)
        }
    }

    public func openDeadLetters(target: String) throws -> [NotifyDeadLetter] {
        try writer.read { db in try NotifyDeadLetterRecord.open(db, target).map(\.asDeadLetter) }
    }

    /// `edge-agent notify requeue TARGET`: every open dead letter of `target` is sent again.
    /// The cursor does not move back: only the letters' ranges go again, so nothing delivered
    /// since is sent twice.
    /// - Returns: how many letters were re-queued.
    @discardableResult
    public func requeue(target: String, nowMillis: Int64) throws -> Int {
        try writer.write { db in
            guard try NotifyCursorRecord.find(db, target) != nil else { throw NotifyLedgerError.unknownTarget(target) }
            return try NotifyDeadLetterRecord.requeueAll(db, target, atMillis: nowMillis)
        }
    }

    /// Re-queued letters still to send, oldest first; the pipeline sends them before new events.
    public func requeuedLetters(target: String) throws -> [NotifyDeadLetter] {
        try writer.read { db in try NotifyDeadLetterRecord.requeued(db, target).map(\.asDeadLetter) }
    }

    /// A re-queued letter was accepted: marked delivered and counted, in one transaction.
    public func recordRedelivery(letter: NotifyDeadLetter, events: Int, nowMillis: Int64,
                                 rateCap: NotifyTarget.RateCap = .default) throws {
        try writer.write { db in
            try NotifyDeadLetterRecord.markRedelivered(db, id: letter.id, atMillis: nowMillis)
            try NotifyCursorRecord.recordSend(db, letter.target, atMillis: nowMillis, keep: rateCap.messages)
            try NotifyCursorRecord.countRedelivery(db, letter.target, events: events, nowMillis: nowMillis)
        }
    }

    /// A re-queued letter was refused again: open again, with the new answer.
    public func recordRefusedAgain(letter: NotifyDeadLetter, status: Int, reason: String, nowMillis: Int64) throws {
        try writer.write { db in
            try NotifyDeadLetterRecord.reopen(db, id: letter.id, status: status,
                                              reason: String(reason.prefix(Self.maxReasonLength)), atMillis: nowMillis)
        }
    }
}

extension NotifyDeadLetterRecord {
    var asDeadLetter: NotifyDeadLetter {
        NotifyDeadLetter(id: id, target: target, range: range, status: status, reason: reason,
                         atMillis: atMillis, requeuedAtMillis: requeuedAtMillis)
    }
}
