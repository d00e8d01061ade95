import Foundation
import GRDB

/// The alert tables in the device's SQLite file: the event log Sync streams, each rule's
/// state (so a restart resumes where it was), and maintenance.
///
/// The daemon and the CLI each open one on the same file. Columns are owned by one writer
/// each: the engine writes a rule's phase, episode and flap history; operators (`ack`,
/// `silence`, `maintenance`) write `acknowledged`, `silenced_until` and `alert_maintenance`
/// with their event in one transaction. The daemon's engine re-reads the operator columns
/// on every `tick()`, so neither overwrites the other.
public final class AlertStore: Sendable {
    public let writer: any DatabaseWriter
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
            try Row.fetchAll(
                db, sql: "SELECT * FROM alert_events WHERE sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [afterSequence, Self.clamp(limit)]
            ).map(Self.event)
        }
    }

    public func eventBacklog(afterSequence: Int64) throws -> Int {
        try writer.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM alert_events WHERE sequence > ?", arguments: [afterSequence]) ?? 0
        }
    }

    /// The newest events first, for one rule or all.
    public func history(limit: Int, ruleID: String?) throws -> [AlertEvent] {
        try writer.read { db in
            if let ruleID {
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM alert_events WHERE rule_id = ? ORDER BY sequence DESC LIMIT ?",
                    arguments: [ruleID, Self.clamp(limit)]
                ).map(Self.event)
            }
            return try Row.fetchAll(
                db, sql: "SELECT * FROM alert_events ORDER BY sequence DESC LIMIT ?", arguments: [Self.clamp(limit)]
            ).map(Self.event)
        }
    }

    /// Rules pending, firing or flapping, by rule id.
    public func active() throws -> [ActiveAlert] {
        try writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM alert_state
                WHERE phase != 'inactive' OR flapping = 1 OR reported_firing = 1
                ORDER BY rule_id
                """
            ).map { row in
                let flapping: Bool = row["flapping"]
                let reportedFiring: Bool = row["reported_firing"]
                let state: ActiveAlert.State = flapping ? .flapping : (reportedFiring ? .firing : .pending)
                let since: Int64 = state == .firing ? (row["fired_at_ms"] ?? row["since_ms"]) : row["since_ms"]
                return ActiveAlert(
                    ruleID: row["rule_id"], sensorID: row["sensor_id"], state: state, sinceMillis: since,
                    value: row["last_value"], acknowledged: row["acknowledged"],
                    silencedUntilMillis: row["silenced_until_ms"],
                    severity: Severity(rawValue: row["severity"]) ?? .warning, message: row["message"])
            }
        }
    }

    /// When maintenance ends, if the device is in maintenance.
    public func maintenanceUntil() throws -> Int64? {
        try writer.read { db in try Self.maintenanceUntil(db) }
    }

    // MARK: - Engine-side persistence

    static func maintenanceUntil(_ db: Database) throws -> Int64? {
        try Int64.fetchOne(db, sql: "SELECT until_ms FROM alert_maintenance WHERE id = 1")
    }

    /// Inserts `event`, returning it with its sequence.
    static func insert(_ event: AlertEvent, _ db: Database) throws -> AlertEvent {
        try db.execute(sql: """
            INSERT INTO alert_events (rule_id, sensor_id, kind, severity, value, threshold, ts_ms,
                                      active_since_ms, message, silenced, output)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [
                event.ruleID, event.sensorID, event.kind.rawValue, event.severity.rawValue, event.value,
                event.threshold, event.timestampMillis, event.activeSinceMillis, event.message,
                event.silenced, event.output,
            ])
        var stored = event
        stored.sequence = db.lastInsertedRowID
        return stored
    }

    /// Writes the engine-owned columns of a rule's state; the operator columns are left alone
    /// except that a new or ended episode clears the acknowledgement.
    static func save(_ s: PersistedState, clearAcknowledged: Bool, _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO alert_state (rule_id, sensor_id, severity, phase, since_ms, flapping, reported_firing,
                                     fired_at_ms, last_value, message, flap_changes)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (rule_id) DO UPDATE SET
                sensor_id = excluded.sensor_id, severity = excluded.severity, phase = excluded.phase,
                since_ms = excluded.since_ms, flapping = excluded.flapping,
                reported_firing = excluded.reported_firing, fired_at_ms = excluded.fired_at_ms,
                last_value = excluded.last_value, message = excluded.message,
                flap_changes = excluded.flap_changes,
                acknowledged = CASE WHEN ? THEN 0 ELSE acknowledged END
            """, arguments: [
                s.ruleID, s.sensorID, s.severity.rawValue, s.phase.rawValue, s.sinceMillis, s.flapping,
                s.reportedFiring, s.firedAtMillis, s.lastValue, s.message,
                s.flapChanges.map(String.init).joined(separator: ","), clearAcknowledged,
            ])
    }

    static func loadStates(_ db: Database) throws -> [String: PersistedState] {
        var states: [String: PersistedState] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM alert_state") {
            let changes: String = row["flap_changes"]
            let state = PersistedState(
                ruleID: row["rule_id"], sensorID: row["sensor_id"],
                severity: Severity(rawValue: row["severity"]) ?? .warning,
                phase: Phase(rawValue: row["phase"]) ?? .inactive, sinceMillis: row["since_ms"],
                flapping: row["flapping"], reportedFiring: row["reported_firing"],
                firedAtMillis: row["fired_at_ms"], lastValue: row["last_value"], message: row["message"],
                flapChanges: changes.split(separator: ",").compactMap { Int64($0) },
                acknowledged: row["acknowledged"], silencedUntilMillis: row["silenced_until_ms"])
            states[state.ruleID] = state
        }
        return states
    }

    private static func event(_ row: Row) -> AlertEvent {
        AlertEvent(
            sequence: row["sequence"], ruleID: row["rule_id"], sensorID: row["sensor_id"],
            kind: AlertEvent.Kind(rawValue: row["kind"]) ?? .fired,
            severity: Severity(rawValue: row["severity"]) ?? .warning,
            value: row["value"], threshold: row["threshold"], timestampMillis: row["ts_ms"],
            activeSinceMillis: row["active_since_ms"], message: row["message"],
            silenced: row["silenced"], output: row["output"])
    }

    private static func clamp(_ limit: Int) -> Int { min(max(limit, 0), maxLimit) }
}

/// Where a rule's condition stands: `pending` while `for:` runs, `firing` once it has held.
enum Phase: String, Sendable {
    case inactive, pending, firing
}

/// One `alert_state` row.
struct PersistedState: Sendable {
    var ruleID: String
    var sensorID: String
    var severity: Severity
    var phase: Phase
    var sinceMillis: Int64
    var flapping: Bool
    var reportedFiring: Bool
    var firedAtMillis: Int64?
    var lastValue: Double?
    var message: String
    var flapChanges: [Int64]
    var acknowledged: Bool
    var silencedUntilMillis: Int64?
}
