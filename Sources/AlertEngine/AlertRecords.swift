import GRDB

// One record type per alert table, and only it writes there (GRDB's recommended practice):
// `AlertEventRecord` → alert_events, `AlertStateRecord` → alert_state,
// `MaintenanceRecord` → alert_maintenance. `AlertStore` is their only user.

/// A row the agent cannot read: it was written by a newer agent or edited by hand. Refused
/// rather than read as a default, which would invent a `fired` or a `warning` nobody recorded.
public enum AlertStoreError: Error, Hashable, CustomStringConvertible {
    case undecodable(table: String, column: String, value: String)

    public var description: String {
        switch self {
        case .undecodable(let table, let column, let value):
            "\(table).\(column) holds '\(value)', which this agent does not know; "
                + "upgrade the agent to the version that wrote it, or delete the row"
        }
    }
}

extension Row {
    /// The enum in `column`, or an error naming the table, column and value.
    fileprivate func decode<T: RawRepresentable>(_ column: String, in table: String) throws -> T where T.RawValue == String {
        let raw: String = self[column]
        guard let value = T(rawValue: raw) else { throw AlertStoreError.undecodable(table: table, column: column, value: raw) }
        return value
    }
}

/// One `alert_events` row: the wire's event, whose `sequence` the table assigns.
struct AlertEventRecord: FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "alert_events"
    var event: AlertEvent

    init(_ event: AlertEvent) { self.event = event }

    init(row: Row) throws {
        event = AlertEvent(
            sequence: row["sequence"], ruleID: row["rule_id"], sensorID: row["sensor_id"],
            kind: try row.decode("kind", in: Self.databaseTableName),
            severity: try row.decode("severity", in: Self.databaseTableName),
            value: row["value"], threshold: row["threshold"], timestampMillis: row["ts_ms"],
            activeSinceMillis: row["active_since_ms"], message: row["message"],
            silenced: row["silenced"], output: row["output"])
    }

    func encode(to container: inout PersistenceContainer) {
        // `sequence` is left out: AUTOINCREMENT assigns it, so Sync's cursor never sees one twice.
        container["rule_id"] = event.ruleID
        container["sensor_id"] = event.sensorID
        container["kind"] = event.kind.rawValue
        container["severity"] = event.severity.rawValue
        container["value"] = event.value
        container["threshold"] = event.threshold
        container["ts_ms"] = event.timestampMillis
        container["active_since_ms"] = event.activeSinceMillis
        container["message"] = event.message
        container["silenced"] = event.silenced
        container["output"] = event.output
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { event.sequence = inserted.rowID }
}

/// One `alert_state` row. The engine writes a rule's episode columns (`saveEpisode`); the
/// operators' commands write `acknowledged` and `silenced_until_ms` alone, so the daemon and
/// the CLI, each with its own engine on the file, never overwrite each other.
struct AlertStateRecord: FetchableRecord, TableRecord, Hashable {
    static let databaseTableName = "alert_state"
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
    /// Stored as comma-separated wall milliseconds.
    var flapChanges: [Int64]
    var acknowledged = false
    var silencedUntilMillis: Int64?

    /// The episode `machine` is in, with the last message recorded for it.
    init(_ machine: RuleMachine, message: String) {
        ruleID = machine.rule.id
        sensorID = machine.rule.sensorID
        severity = machine.rule.severity
        phase = machine.phase
        sinceMillis = machine.since
        flapping = machine.flapping
        reportedFiring = machine.reportedFiring
        firedAtMillis = machine.firedAt
        lastValue = machine.lastValue
        self.message = message
        flapChanges = machine.flapChanges
    }

    init(row: Row) throws {
        ruleID = row["rule_id"]
        sensorID = row["sensor_id"]
        severity = try row.decode("severity", in: Self.databaseTableName)
        phase = try row.decode("phase", in: Self.databaseTableName)
        sinceMillis = row["since_ms"]
        flapping = row["flapping"]
        reportedFiring = row["reported_firing"]
        firedAtMillis = row["fired_at_ms"]
        lastValue = row["last_value"]
        message = row["message"]
        let changes: String = row["flap_changes"]
        flapChanges = changes.split(separator: ",").compactMap { Int64($0) }
        acknowledged = row["acknowledged"]
        silencedUntilMillis = row["silenced_until_ms"]
    }

    /// Whether a person can acknowledge it: it fires, as reported, or flaps.
    var isAcknowledgeable: Bool { reportedFiring || flapping }

    /// Writes the engine's columns; the operator columns are left alone except that a new or
    /// ended episode (`clearAcknowledged`) clears the acknowledgement.
    func saveEpisode(_ db: Database, clearAcknowledged: Bool) throws {
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
                ruleID, sensorID, severity.rawValue, phase.rawValue, sinceMillis, flapping, reportedFiring,
                firedAtMillis, lastValue, message, flapChanges.map(String.init).joined(separator: ","), clearAcknowledged,
            ])
    }

    /// Saves the episode unless the rule already has a row, which keeps its own.
    func insertIfMissing(_ db: Database) throws {
        if try !Self.exists(db, ruleID) { try saveEpisode(db, clearAcknowledged: false) }
    }

    static func exists(_ db: Database, _ ruleID: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM alert_state WHERE rule_id = ?)", arguments: [ruleID])!
    }

    static func find(_ db: Database, _ ruleID: String) throws -> AlertStateRecord? {
        try fetchOne(db, sql: "SELECT * FROM alert_state WHERE rule_id = ?", arguments: [ruleID])
    }

    static func setAcknowledged(_ db: Database, _ ruleID: String) throws {
        try db.execute(sql: "UPDATE alert_state SET acknowledged = 1 WHERE rule_id = ?", arguments: [ruleID])
    }

    static func setSilence(_ db: Database, _ ruleID: String, until: Int64) throws {
        try db.execute(sql: "UPDATE alert_state SET silenced_until_ms = ? WHERE rule_id = ?", arguments: [until, ruleID])
    }

    /// Ends the silence only if it still ends at `until` (the CLI may have renewed it).
    static func endSilence(_ db: Database, _ ruleID: String, ifUntil until: Int64) throws -> Bool {
        try db.execute(
            sql: "UPDATE alert_state SET silenced_until_ms = NULL WHERE rule_id = ? AND silenced_until_ms = ?",
            arguments: [ruleID, until])
        return db.changesCount > 0
    }

    static func delete(_ db: Database, _ ruleID: String) throws {
        try db.execute(sql: "DELETE FROM alert_state WHERE rule_id = ?", arguments: [ruleID])
    }
}

/// The one `alert_maintenance` row, present while the device is in maintenance.
struct MaintenanceRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "alert_maintenance"
    var untilMillis: Int64

    init(untilMillis: Int64) { self.untilMillis = untilMillis }
    init(row: Row) { untilMillis = row["until_ms"] }

    func encode(to container: inout PersistenceContainer) {
        container["id"] = 1
        container["until_ms"] = untilMillis
    }

    static func current(_ db: Database) throws -> Int64? {
        try fetchOne(db, sql: "SELECT until_ms FROM alert_maintenance WHERE id = 1")?.untilMillis
    }

    func start(_ db: Database) throws { try insert(db, onConflict: .replace) }

    /// Ends maintenance, only if it still ends at `until` when one is given; whether it did.
    static func end(_ db: Database, ifUntil until: Int64? = nil) throws -> Bool {
        if let until {
            try db.execute(sql: "DELETE FROM alert_maintenance WHERE id = 1 AND until_ms = ?", arguments: [until])
        } else {
            try db.execute(sql: "DELETE FROM alert_maintenance WHERE id = 1")
        }
        return db.changesCount > 0
    }
}
