import EdgeCore
import Foundation
import Logging
import PostgresNIO
import Wire

/// The server's PostgreSQL access: one method per thing the server does, each one
/// statement or one transaction. Errors PostgreSQL raises reach the HTTP rules as
/// `FleetStoreFailure`s.
public struct PostgresFleetStore: FleetStoring {
    public let client: PostgresClient
    let logger: Logger
    /// Where new events become notifications, in the batch's own transaction.
    let outbox: NotificationOutbox

    public init(client: PostgresClient, logger: Logger, notifications: NotificationSettings = NotificationSettings()) {
        self.client = client
        self.logger = logger
        outbox = NotificationOutbox(settings: notifications, logger: logger)
    }

    // MARK: Devices

    /// Registers a device and returns its token: the only time the token exists outside
    /// the device. Only its hash is stored.
    public func addDevice(name: String) async throws -> String {
        guard Self.isValidDeviceName(name) else {
            throw ConfigurationError("device name \"\(name)\" must be 1–64 characters of letters, digits, '.', '_' or '-'")
        }
        let token = DeviceToken.generate()
        let hash = TokenHash(of: token).bytes
        do {
            try await client.query("INSERT INTO devices (name, token_hash) VALUES (\(name), \(ByteBuffer(bytes: hash)))", logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw ConfigurationError("a device named \"\(name)\" already exists")
        }
        return token
    }

    static func isValidDeviceName(_ name: String) -> Bool {
        (1...64).contains(name.count)
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }
    }

    public func device(withToken hash: TokenHash) async throws -> Device? {
        try await failingAsStore {
            try await firstDevice(client.query("SELECT id, name FROM devices WHERE token_hash = \(ByteBuffer(bytes: hash.bytes))", logger: logger))
        }
    }

    public func device(named name: String) async throws -> Device? {
        try await failingAsStore { try await firstDevice(client.query("SELECT id, name FROM devices WHERE name = \(name)", logger: logger)) }
    }

    private func firstDevice(_ rows: PostgresRowSequence) async throws -> Device? {
        for try await (id, name) in rows.decode((Int64, String).self) { return Device(id: id, name: name) }
        return nil
    }

    public func devices() async throws -> [DeviceSummary] {
        try await failingAsStore { try await allDevices() }
    }

    private func allDevices() async throws -> [DeviceSummary] {
        let rows = try await client.query("""
            SELECT name, (extract(epoch FROM created) * 1000)::int8, (extract(epoch FROM last_seen) * 1000)::int8,
                   last_health::text
            FROM devices ORDER BY name
            """, logger: logger)
        var result: [DeviceSummary] = []
        for try await (name, created, lastSeen, health) in rows.decode((String, Int64, Int64?, String?).self) {
            result.append(DeviceSummary(
                name: name, createdMillis: created, lastSeenMillis: lastSeen,
                lastHealth: try health.map { try JSONDecoder().decode(HealthReport.self, from: Data($0.utf8)) }))
        }
        return result
    }

    // MARK: Batches

    /// Stores a batch in one transaction: readings and events (one UNNEST / recordset
    /// statement each, `ON CONFLICT DO NOTHING`), the health report (keeping the newest
    /// `healthReportsKept` per device), `last_seen`. The answer says how many rows were new
    /// and how many the server already held.
    ///
    /// `starting` is called once a connection is held, before anything is written; each
    /// statement is bounded by `statementTimeout` (PostgreSQL cancels it, SQLSTATE 57014).
    public func store(_ batch: SyncBatch, from device: Device, statementTimeout: Duration = .seconds(30),
                      healthReportsKept: Int = 1_000, starting: @Sendable () throws -> Void = {}) async throws -> SyncAck {
        try await failingAsStore {
            try await transaction(batch, from: device, statementTimeout: statementTimeout, healthReportsKept: healthReportsKept,
                                  starting: starting)
        }
    }

    private func transaction(_ batch: SyncBatch, from device: Device, statementTimeout: Duration, healthReportsKept: Int,
                             starting: @Sendable () throws -> Void) async throws -> SyncAck {
        let health = try batch.health.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try await client.withTransaction(logger: logger) { connection in
            try starting()
            let millis = max(1, statementTimeout.saturatingMillis)
            try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(millis)"), logger: logger)
            var ack = SyncAck(healthStored: batch.health != nil)
            if let block = batch.readings {
                let inserted = block.count == 0 ? 0 : try await insertReadings(block, device: device, store: batch.storeID, on: connection)
                ack.readings = .init(range: block.range, inserted: inserted, duplicates: block.count - inserted)
            }
            var newEvents: [WireAlertEvent] = []
            if let block = batch.events {
                newEvents = block.events.isEmpty ? [] : try await insertEvents(block, device: device, store: batch.storeID, on: connection)
                ack.events = .init(range: block.range, inserted: newEvents.count, duplicates: block.events.count - newEvents.count)
            }
            // The outbox: notifications for the new events only, and `device_back` for a
            // device that was offline, committed with the batch or not at all.
            try await outbox.ingest(newEvents: newEvents, store: batch.storeID, device: device.id, on: connection)
            if let health, let report = batch.health {
                try await connection.query("""
                    INSERT INTO health (device_id, taken_at_ms, report) VALUES (\(device.id), \(report.takenAtMillis), \(health)::jsonb)
                    """, logger: logger)
                // Retention: the newest reports by arrival, so a device clock in the future
                // cannot pin old rows.
                try await connection.query("""
                    DELETE FROM health WHERE device_id = \(device.id) AND id IN (
                        SELECT id FROM health WHERE device_id = \(device.id) ORDER BY id DESC OFFSET \(healthReportsKept))
                    """, logger: logger)
            }
            try await connection.query("""
                UPDATE devices SET last_seen = now(), last_health = COALESCE(\(health)::jsonb, last_health) WHERE id = \(device.id)
                """, logger: logger)
            return ack
        }
    }

    /// The columns go to PostgreSQL as arrays; sensor and unit indexes are resolved against
    /// the batch's dictionaries in SQL (1-based arrays, hence `+ 1`). A batch without the
    /// `clockUnsynced` column sends an empty array, which UNNEST pads with NULL; an older
    /// agent's `clock-unsynced` quality sets the flag too.
    private func insertReadings(_ block: ReadingBlock, device: Device, store: String, on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query("""
            WITH inserted AS (
                INSERT INTO readings (device_id, store_id, sequence, sensor_id, ts_ms, value, unit, quality, clock_unsynced)
                SELECT \(device.id), \(store), r.sequence, (\(block.sensors)::text[])[r.sensor + 1], r.ts_ms, r.value,
                       (\(block.units)::text[])[r.unit + 1], r.quality,
                       COALESCE(r.clock_unsynced, false) OR r.quality = 'clock-unsynced'
                FROM UNNEST(\(block.sequence)::int8[], \(block.sensor)::int4[], \(block.timestampMillis)::int8[],
                            \(block.value)::float8[], \(block.unit)::int4[], \(block.quality)::text[],
                            \(block.clockUnsynced ?? [])::bool[])
                     AS r(sequence, sensor, ts_ms, value, unit, quality, clock_unsynced)
                ON CONFLICT (device_id, store_id, sequence) DO NOTHING
                RETURNING 1)
            SELECT count(*) FROM inserted
            """, logger: logger)
        return try await Self.count(rows)
    }

    /// Events carry optional columns, so they travel as one JSON array through
    /// `jsonb_to_recordset`: still one statement per batch. Returns the events that were new
    /// (a resent batch's are not), which are the ones that may notify.
    private func insertEvents(_ block: EventBlock, device: Device, store: String, on connection: PostgresConnection) async throws -> [WireAlertEvent] {
        let json = String(decoding: try JSONEncoder().encode(block.events), as: UTF8.self)
        let rows = try await connection.query("""
            WITH inserted AS (
                INSERT INTO alert_events (device_id, store_id, sequence, rule_id, sensor_id, kind, severity, value, threshold,
                                          ts_ms, active_since_ms, message, silenced, output)
                SELECT \(device.id), \(store), e."sequence", e."ruleID", e."sensorID", e.kind, e.severity, e.value, e.threshold,
                       e."timestampMillis", e."activeSinceMillis", e.message, e.silenced, e.output
                FROM jsonb_to_recordset(\(json)::jsonb) AS e("sequence" int8, "ruleID" text, "sensorID" text, kind text,
                     severity text, value float8, threshold float8, "timestampMillis" int8, "activeSinceMillis" int8, message text,
                     silenced boolean, output text)
                ON CONFLICT (device_id, store_id, sequence) DO NOTHING
                RETURNING sequence)
            SELECT sequence FROM inserted
            """, logger: logger)
        var inserted = Set<Int64>()
        for try await sequence in rows.decode(Int64.self) { inserted.insert(sequence) }
        return block.events.filter { inserted.contains($0.sequence) }
    }

    private static func count(_ rows: PostgresRowSequence) async throws -> Int {
        var count = 0
        for try await value in rows.decode(Int64.self) { count = Int(value) }
        return count
    }

    // MARK: Read API

    public func readings(of device: Device, sensor: String?, fromMillis: Int64?, toMillis: Int64?, limit: Int) async throws -> [StoredReading] {
        try await failingAsStore { try await readingRows(of: device, sensor: sensor, fromMillis: fromMillis, toMillis: toMillis, limit: limit) }
    }

    private func readingRows(of device: Device, sensor: String?, fromMillis: Int64?, toMillis: Int64?, limit: Int) async throws -> [StoredReading] {
        let rows = try await client.query("""
            SELECT store_id, sequence, sensor_id, ts_ms, value, unit, quality, clock_unsynced FROM readings
            WHERE device_id = \(device.id) AND (\(sensor)::text IS NULL OR sensor_id = \(sensor))
              AND ts_ms >= COALESCE(\(fromMillis)::int8, -9223372036854775808)
              AND ts_ms < COALESCE(\(toMillis)::int8, 9223372036854775807)
            ORDER BY ts_ms, store_id, sequence LIMIT \(limit)
            """, logger: logger)
        var result: [StoredReading] = []
        for try await (store, sequence, sensorID, ts, value, unit, quality, clockUnsynced)
            in rows.decode((String, Int64, String, Int64, Double, String, String, Bool).self) {
            result.append(StoredReading(storeID: store, sequence: sequence, sensorID: sensorID, timestampMillis: ts,
                                        value: value, unit: unit, quality: quality, clockUnsynced: clockUnsynced))
        }
        return result
    }

    public func events(of device: Device, fromMillis: Int64?, toMillis: Int64?, limit: Int) async throws -> [StoredEvent] {
        try await failingAsStore { try await eventRows(of: device, fromMillis: fromMillis, toMillis: toMillis, limit: limit) }
    }

    private func eventRows(of device: Device, fromMillis: Int64?, toMillis: Int64?, limit: Int) async throws -> [StoredEvent] {
        let rows = try await client.query("""
            SELECT store_id, sequence, rule_id, sensor_id, kind, severity, value, threshold, ts_ms, active_since_ms, message,
                   silenced, output
            FROM alert_events
            WHERE device_id = \(device.id)
              AND ts_ms >= COALESCE(\(fromMillis)::int8, -9223372036854775808)
              AND ts_ms < COALESCE(\(toMillis)::int8, 9223372036854775807)
            ORDER BY ts_ms, store_id, sequence LIMIT \(limit)
            """, logger: logger)
        var result: [StoredEvent] = []
        for try await row in rows {
            let (store, sequence, rule, sensorID, kind, severity, value, threshold, ts, since, message, silenced, output) =
                try row.decode((String, Int64, String, String, String, String, Double?, Double?, Int64, Int64?, String, Bool, String?).self)
            // Stored only after the wire decoded them, so a word that does not decode is a
            // damaged row, not something to default.
            guard let kind = AlertEventKind(rawValue: kind), let severity = AlertSeverity(rawValue: severity) else {
                throw FleetStoreError.undecodableEvent(store: store, sequence: sequence, kind: kind, severity: severity)
            }
            result.append(StoredEvent(storeID: store, event: WireAlertEvent(
                sequence: sequence, ruleID: rule, sensorID: sensorID, kind: kind, severity: severity, value: value,
                threshold: threshold, timestampMillis: ts, activeSinceMillis: since, message: message,
                silenced: silenced, output: output)))
        }
        return result
    }

    public func ping() async throws {
        try await failingAsStore { _ = try await client.query("SELECT 1", logger: logger) }
    }

    // MARK: Failures

    /// Runs `operation`, turning what PostgreSQL raised into the `FleetStoreFailure` the HTTP
    /// rules answer with. Other errors pass unchanged.
    private func failingAsStore<T>(_ operation: () async throws -> T) async throws -> T {
        do {
            return try await operation()
        } catch {
            throw Self.failure(error) ?? error
        }
    }

    /// The failure `error` means, or `nil` if PostgreSQL did not raise it.
    static func failure(_ error: any Error) -> FleetStoreFailure? {
        let detail = String(reflecting: error)
        if let transaction = error as? PostgresTransactionError, let commitError = transaction.commitError,
           sqlState(of: commitError) == nil {
            return .commitUnknown(detail: String(reflecting: commitError))
        }
        guard error is PSQLError || error is PostgresTransactionError else { return nil }
        switch sqlState(of: error) {
        case "57014"?: return .timedOut
        case let state? where state.hasPrefix("22"): return .refusedData(sqlState: state, detail: detail)
        // Connection exceptions, insufficient resources, operator intervention: transient.
        case let state? where !["08", "53", "57"].contains(String(state.prefix(2))): return .rejected(sqlState: state, detail: detail)
        default: return .unavailable(detail: detail)
        }
    }

    /// The SQLSTATE of an error PostgreSQL sent, looking inside transaction errors.
    static func sqlState(of error: any Error) -> String? {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] }
        if let error = error as? PostgresTransactionError {
            for inner in [error.closureError, error.beginError, error.commitError].compactMap({ $0 }) {
                if let state = sqlState(of: inner) { return state }
            }
        }
        return nil
    }
}

public enum FleetStoreError: Error, CustomStringConvertible {
    case undecodableEvent(store: String, sequence: Int64, kind: String, severity: String)

    public var description: String {
        switch self {
        case .undecodableEvent(let store, let sequence, let kind, let severity):
            "alert event \(store)#\(sequence) has kind \"\(kind)\" and severity \"\(severity)\", which this server does not know; was it written by a newer server?"
        }
    }
}
