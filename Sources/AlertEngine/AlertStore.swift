import Foundation
import GRDB
import Synchronization

/// The alert tables in the device's SQLite file: the event log Sync streams, each rule's
/// state (so a restart resumes where it was), and maintenance. Their only owner: every read
/// and write goes through the record types in AlertRecords.swift, and a value that does not
/// decode is an `AlertStoreError`, not a default.
///
/// The daemon and the CLI each open one on the same file. Columns are owned by one writer
/// each: the engine writes a rule's phase, episode and flap history; operators (`ack`,
/// `silence`, `maintenance`) write `acknowledged`, `silenced_until` and `alert_maintenance`
/// with their event in one transaction. The daemon's engine re-reads the operator columns
/// on every `tick()`, so neither overwrites the other.
public final class AlertStore: Sendable {
    let writer: any DatabaseWriter
    /// The most events one `events(afterSequence:limit:)` or `history` call returns.
    public static let maxLimit = 10_000

    public init(writer: any DatabaseWriter) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
    }

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("alerts-v1") { db in
            try db.execute(sql: """
                -- AUTOINCREMENT: Sync's cursor must never see a sequence twice.
                CREATE TABLE alert_events (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    rule_id TEXT NOT NULL,
                    sensor_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    value REAL,
                    threshold REAL,
                    ts_ms INTEGER NOT NULL,
                    active_since_ms INTEGER,
                    message TEXT NOT NULL,
                    silenced INTEGER NOT NULL,
                    output TEXT
                );
                CREATE INDEX alert_events_rule ON alert_events(rule_id, sequence);
                CREATE TABLE alert_state (
                    rule_id TEXT PRIMARY KEY,
                    sensor_id TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    phase TEXT NOT NULL,
                    since_ms INTEGER NOT NULL,
                    flapping INTEGER NOT NULL,
                    reported_firing INTEGER NOT NULL,
                    fired_at_ms INTEGER,
                    last_value REAL,
                    message TEXT NOT NULL,
                    flap_changes TEXT NOT NULL,
                    acknowledged INTEGER NOT NULL DEFAULT 0,
                    silenced_until_ms INTEGER
                ) WITHOUT ROWID;
                CREATE TABLE alert_maintenance (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    until_ms INTEGER NOT NULL
                );
                """)
        }
        return migrator
    }()

    /// Events after `afterSequence`, ascending.
    public func events(afterSequence: Int64, limit: Int) throws -> [AlertEvent] {
        try writer.read { db in
            try AlertEventRecord.fetchAll(
                db, sql: "SELECT * FROM alert_events WHERE sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [afterSequence, Self.clamp(limit)]
            ).map(\.event)
        }
    }

    public func eventBacklog(afterSequence: Int64) throws -> Int {
        try writer.read { db in
            try AlertEventRecord.filter(sql: "sequence > ?", arguments: [afterSequence]).fetchCount(db)
        }
    }

    /// The newest event's sequence, 0 with none: where a new notification target starts.
    public func newestEventSequence() throws -> Int64 {
        try writer.read { db in try Int64.fetchOne(db, sql: "SELECT coalesce(max(sequence), 0) FROM alert_events") ?? 0 }
    }

    /// The newest events first, for one rule or all.
    public func history(limit: Int, ruleID: String?) throws -> [AlertEvent] {
        try writer.read { db in
            // Two statements, so the one rule's history is read through `alert_events_rule`.
            let records = if let ruleID {
                try AlertEventRecord.fetchAll(
                    db, sql: "SELECT * FROM alert_events WHERE rule_id = ? ORDER BY sequence DESC LIMIT ?",
                    arguments: [ruleID, Self.clamp(limit)])
            } else {
                try AlertEventRecord.fetchAll(
                    db, sql: "SELECT * FROM alert_events ORDER BY sequence DESC LIMIT ?", arguments: [Self.clamp(limit)])
            }
            return records.map(\.event)
        }
    }

    /// Rules pending, firing or flapping, by rule id.
    public func active() throws -> [ActiveAlert] {
        try writer.read { db in
            try AlertStateRecord.fetchAll(db, sql: """
                SELECT * FROM alert_state
                WHERE phase != 'inactive' OR flapping = 1 OR reported_firing = 1
                ORDER BY rule_id
                """
            ).map { row in
                let episode = row.episode
                let state: ActiveAlert.State = episode.flapping ? .flapping : (episode.reportedFiring ? .firing : .pending)
                return ActiveAlert(
                    ruleID: row.ruleID, sensorID: row.sensorID, state: state,
                    sinceMillis: state == .firing ? (episode.firedAt ?? episode.since) : episode.since,
                    value: episode.lastValue, acknowledged: row.acknowledged, silencedUntilMillis: row.silencedUntilMillis,
                    severity: row.severity, message: row.message)
            }
        }
    }

    /// When maintenance ends, if the device is in maintenance.
    public func maintenanceUntil() throws -> Int64? {
        try writer.read { db in try MaintenanceRecord.current(db) }
    }

    // MARK: - The engine's side

    /// Every rule's persisted state by rule id, and when maintenance ends.
    func load() throws -> (states: [String: AlertStateRecord], maintenanceUntil: Int64?) {
        try writer.read { db in
            let states = try AlertStateRecord.fetchAll(db)
            return (Dictionary(states.map { ($0.ruleID, $0) }, uniquingKeysWith: { $1 }), try MaintenanceRecord.current(db))
        }
    }

    /// Writes what one engine call decided, in one transaction; the events with their sequences.
    static func commit(_ batch: StoreBatch, _ db: Database) throws -> [AlertEvent] {
        for (state, clear) in batch.states { try state.saveEpisode(db, clearAcknowledged: clear) }
        var stored: [AlertEvent] = []
        for item in batch.items {
            switch item {
            case .event(let event):
                stored.append(try insert(event, db))
            case .endSilence(let event, let ruleID, let until):
                if try AlertStateRecord.endSilence(db, ruleID, ifUntil: until) { stored.append(try insert(event, db)) }
            case .endMaintenance(let event, let until):
                if try MaintenanceRecord.end(db, ifUntil: until) { stored.append(try insert(event, db)) }
            }
        }
        return stored
    }

    static func insert(_ event: AlertEvent, _ db: Database) throws -> AlertEvent {
        var record = AlertEventRecord(event)
        try record.insert(db)
        return record.event
    }

    /// Runs `body` in a transaction on the writer's serial queue and, still there, hands the
    /// outcome to `settle`; returns at once. Calls are written, and settled, in the order they
    /// were submitted, so a caller can submit under its lock and wait outside it.
    func submit<T: Sendable>(
        _ body: @escaping @Sendable (Database) throws -> T,
        settle: @escaping @Sendable (Result<T, any Error>) -> Void
    ) -> PendingWrite<T> {
        let pending = PendingWrite<T>()
        writer.asyncWriteWithoutTransaction { db in
            let result = Result { () throws -> T in
                var value: T?
                try db.inTransaction {
                    value = try body(db)
                    return .commit
                }
                return value!
            }
            settle(result)
            pending.finish(result)
        }
        return pending
    }

    private static func clamp(_ limit: Int) -> Int { min(max(limit, 0), maxLimit) }
}

/// What one engine call commits: rule states to save (with whether the acknowledgement goes)
/// and events in order, some recorded only if an expiry still holds.
struct StoreBatch: Sendable {
    enum Item: Sendable {
        case event(AlertEvent)
        /// Recorded only if the silence still ends at `until`: the CLI may have renewed it.
        case endSilence(AlertEvent, ruleID: String, until: Int64)
        /// Recorded only if maintenance still ends at `until`.
        case endMaintenance(AlertEvent, until: Int64)
    }
    var states: [(AlertStateRecord, clearAcknowledged: Bool)] = []
    var items: [Item] = []
}

/// A write submitted to the store's queue; `wait()` blocks until it is written and settled.
final class PendingWrite<T: Sendable>: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let result = Mutex<Result<T, any Error>?>(nil)

    fileprivate func finish(_ outcome: Result<T, any Error>) {
        result.withLock { $0 = outcome }
        done.signal()
    }

    func wait() throws -> T {
        done.wait()
        return try result.withLock { $0! }.get()
    }
}
