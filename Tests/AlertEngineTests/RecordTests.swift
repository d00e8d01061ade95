import AlertEngine
import GRDB
import Testing

/// A value the agent does not know in an enum column is an error naming the table, the column
/// and the value, not a `fired` or a `warning` nobody recorded.
@Suite struct RecordTests {
    struct Corruption: Sendable, CustomTestStringConvertible {
        var table: String
        var column: String
        var sql: String
        var testDescription: String { "\(table).\(column)" }
    }

    static let eventSQL = """
        INSERT INTO alert_events (rule_id, sensor_id, kind, severity, ts_ms, message, silenced)
        VALUES ('hot', 't', ?, ?, 0, 'x', 0)
        """
    static let stateSQL = """
        INSERT INTO alert_state (rule_id, sensor_id, severity, phase, since_ms, flapping, reported_firing, message, flap_changes)
        VALUES ('hot', 't', ?, ?, 0, 0, 1, 'x', '')
        """

    static let corruptions = [
        Corruption(table: "alert_events", column: "kind", sql: eventSQL.replacingFirst("?", "'exploded'").replacingFirst("?", "'warning'")),
        Corruption(table: "alert_events", column: "severity", sql: eventSQL.replacingFirst("?", "'fired'").replacingFirst("?", "'exploded'")),
        Corruption(table: "alert_state", column: "severity", sql: stateSQL.replacingFirst("?", "'exploded'").replacingFirst("?", "'firing'")),
        Corruption(table: "alert_state", column: "phase", sql: stateSQL.replacingFirst("?", "'warning'").replacingFirst("?", "'exploded'")),
    ]

    @Test(arguments: corruptions)
    func anUnknownEnumValueIsAnErrorNamingIt(_ corruption: Corruption) throws {
        let h = try Harness()
        try h.writer.write { db in try db.execute(sql: corruption.sql) }
        let expected = AlertStoreError.undecodable(table: corruption.table, column: corruption.column, value: "exploded")
        if corruption.table == "alert_events" {
            #expect(throws: expected) { try h.store.events(afterSequence: 0, limit: 10) }
            #expect(throws: expected) { try h.store.history(limit: 10, ruleID: nil) }
        } else {
            #expect(throws: expected) { try h.store.active() }
            // The engine refuses to start on it rather than resume a made-up state.
            let rule = AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil))
            #expect(throws: expected) { try h.engine([rule]) }
        }
        #expect(expected.description
            == "\(corruption.table).\(corruption.column) holds 'exploded', which this agent does not know; "
            + "upgrade the agent to the version that wrote it, or delete the row")
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, _ replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
