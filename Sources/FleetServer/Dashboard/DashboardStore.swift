import Foundation
import Logging
import PostgresNIO
import Wire

/// The dashboard's reads, straight from PostgreSQL: each one statement, each bounded by the
/// caller's deadline. Only reads: the dashboard writes nothing of the fleet's data.
struct DashboardStore: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// The fleet's default offline threshold (`NotificationDefaults.offlineAfterSeconds`).
    let defaultOfflineSeconds: Int

    struct DeviceRow: Sendable {
        var name: String
        var lastSeenMillis: Int64?
        var health: HealthReport?
        /// This device's offline threshold, by the offline detector's rule (`OfflineThreshold`).
        var offlineAfter: Duration = .seconds(300)
    }

    /// The columns every device read takes, in the order `deviceRow` decodes them.
    static let deviceColumns = """
        name, (extract(epoch FROM last_seen) * 1000)::int8, last_health::text, offline_after_seconds,
        last_health->>'syncIntervalSeconds'
        """

    func deviceRow(_ name: String, _ lastSeen: Int64?, _ health: String?, _ override: Int?, _ syncInterval: String?) -> DeviceRow {
        DeviceRow(name: name, lastSeenMillis: lastSeen, health: Self.report(health),
                  offlineAfter: offlineAfter(override: override, syncInterval: syncInterval))
    }

    func offlineAfter(override: Int?, syncInterval: String?) -> Duration {
        .seconds(OfflineThreshold.seconds(override: override, syncIntervalSeconds: syncInterval.flatMap(Double.init),
                                          defaultSeconds: defaultOfflineSeconds))
    }

    /// Every device with its last health report (the overview reads the fleet whole: it is
    /// one row per device, and the counts must add up to the table).
    func devices() async throws -> [DeviceRow] {
        let rows = try await client.query("SELECT \(unescaped: Self.deviceColumns) FROM devices ORDER BY name", logger: logger)
        var result: [DeviceRow] = []
        for try await (name, lastSeen, health, override, interval) in rows.decode((String, Int64?, String?, Int?, String?).self) {
            result.append(deviceRow(name, lastSeen, health, override, interval))
        }
        return result
    }

    /// A report this server cannot decode shows as "no report", not as a broken page.
    static func report(_ json: String?) -> HealthReport? {
        json.flatMap { try? JSONDecoder().decode(HealthReport.self, from: Data($0.utf8)) }
    }

    /// Each device's last-seen time and last health status only: what `/metrics` counts
    /// states from, without decoding a thousand health reports per scrape.
    func deviceStates() async throws -> [(lastSeenMillis: Int64?, status: HealthReport.Status?, offlineAfter: Duration)] {
        let rows = try await client.query("""
            SELECT (extract(epoch FROM last_seen) * 1000)::int8, last_health->>'status', offline_after_seconds,
                   last_health->>'syncIntervalSeconds'
            FROM devices
            """, logger: logger)
        var result: [(lastSeenMillis: Int64?, status: HealthReport.Status?, offlineAfter: Duration)] = []
        for try await (lastSeen, status, override, interval) in rows.decode((Int64?, String?, Int?, String?).self) {
            result.append((lastSeen, status.flatMap(HealthReport.Status.init(rawValue:)), offlineAfter(override: override, syncInterval: interval)))
        }
        return result
    }

    func device(named name: String) async throws -> DeviceRow? {
        let rows = try await client.query("SELECT \(unescaped: Self.deviceColumns) FROM devices WHERE name = \(name)", logger: logger)
        for try await (name, lastSeen, health, override, interval) in rows.decode((String, Int64?, String?, Int?, String?).self) {
            return deviceRow(name, lastSeen, health, override, interval)
        }
        return nil
    }

    /// One bucket of one sensor: min, max and mean of the readings in it.
    struct Bucket: Sendable, Hashable {
        var index: Int
        var min: Double
        var max: Double
        var mean: Double
        var count: Int
    }

    struct SensorSeries: Sendable {
        var sensor: String
        var unit: String
        var buckets: [Bucket]
    }

    /// Downsampled in PostgreSQL: readings of `device` in `window`, grouped per sensor into
    /// the window's buckets, min / max / mean per bucket. 30 days at 1 s (2.6 M rows) come back
    /// as 180 rows per sensor; the index on (device_id, sensor_id, ts_ms) bounds the scan.
    func series(device: String, window: ChartWindow) async throws -> [SensorSeries] {
        // Only numbers are aggregated: a text column (the unit) in the GROUP BY's aggregates
        // doubled the time of a month's page. The unit is the sensor's newest, read by index.
        //
        // PostgreSQL estimates one group per row for the bucket expression (it knows ts_ms is
        // nearly unique, not that the division folds it into at most `window.buckets`), so it
        // plans a sort of every row, on disk for a month of 1 s readings, and compiles the
        // statement with JIT, which costs more than it saves for a statement run once. A
        // window has at most 180 buckets a sensor, so hashing is right: the statement runs with
        // sorting and JIT off, in its own transaction (SET LOCAL), and the rows are ordered here.
        // On a month of 1 s rows: 2.4–2.9 s before, 1.3 s after (docs/BENCHMARKS.md).
        let query: PostgresQuery = """
            SELECT r.sensor_id, ((r.ts_ms - \(window.startMillis)) / \(window.bucketMillis))::int8 AS bucket,
                   min(r.value), max(r.value), avg(r.value), count(*)
            FROM readings r
            WHERE r.device_id = (SELECT id FROM devices WHERE name = \(device))
              AND r.ts_ms >= \(window.startMillis) AND r.ts_ms < \(window.endMillis)
            GROUP BY 1, 2
            """
        var rows: [(sensor: String, bucket: Bucket)] = []
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET LOCAL jit = off", logger: logger)
            try await connection.query("SET LOCAL enable_sort = off", logger: logger)
            try await connection.query("SET LOCAL enable_incremental_sort = off", logger: logger)
            for try await (sensor, bucket, low, high, mean, count) in try await connection.query(query, logger: logger)
                .decode((String, Int64, Double, Double, Double, Int64).self) {
                rows.append((sensor, Bucket(index: Int(bucket), min: low, max: high, mean: mean, count: Int(count))))
            }
        }
        var result: [SensorSeries] = []
        for row in rows.sorted(by: { ($0.sensor, $0.bucket.index) < ($1.sensor, $1.bucket.index) }) {
            if result.last?.sensor != row.sensor { result.append(SensorSeries(sensor: row.sensor, unit: "", buckets: [])) }
            result[result.count - 1].buckets.append(row.bucket)
        }
        guard !result.isEmpty else { return result }
        let units = try await client.query("""
            SELECT s.sensor_id, u.unit FROM unnest(\(result.map(\.sensor))::text[]) AS s(sensor_id)
            CROSS JOIN LATERAL (
                SELECT unit FROM readings
                WHERE device_id = (SELECT id FROM devices WHERE name = \(device)) AND sensor_id = s.sensor_id
                  AND ts_ms < \(window.endMillis)
                ORDER BY ts_ms DESC LIMIT 1) AS u
            """, logger: logger)
        var unitOf: [String: String] = [:]
        for try await (sensor, unit) in units.decode((String, String).self) { unitOf[sensor] = unit }
        return result.map { SensorSeries(sensor: $0.sensor, unit: unitOf[$0.sensor] ?? "", buckets: $0.buckets) }
    }

    /// A rule's threshold as its newest event for the sensor carried it. The device does not
    /// send its rules, so a rule that never fired has no line.
    struct Threshold: Sendable, Hashable {
        var rule: String
        var sensor: String
        var value: Double
        var severity: String
    }

    func thresholds(device: String) async throws -> [Threshold] {
        let rows = try await client.query("""
            SELECT DISTINCT ON (e.rule_id, e.sensor_id) e.rule_id, e.sensor_id, e.threshold, e.severity
            FROM alert_events e JOIN devices d ON d.id = e.device_id
            WHERE d.name = \(device) AND e.threshold IS NOT NULL
            ORDER BY e.rule_id, e.sensor_id, e.ts_ms DESC
            """, logger: logger)
        var result: [Threshold] = []
        for try await (rule, sensor, value, severity) in rows.decode((String, String, Double, String).self) {
            result.append(Threshold(rule: rule, sensor: sensor, value: value, severity: severity))
        }
        return result
    }

    struct EventRow: Sendable {
        var timestampMillis: Int64
        var kind: String
        var rule: String
        var sensor: String
        var severity: String
        var value: Double?
        var message: String?
    }

    /// The window's alert events, newest first, at most `limit`.
    func events(device: String, window: ChartWindow, limit: Int = 200) async throws -> [EventRow] {
        let rows = try await client.query("""
            SELECT e.ts_ms, e.kind, e.rule_id, e.sensor_id, e.severity, e.value, e.message
            FROM alert_events e JOIN devices d ON d.id = e.device_id
            WHERE d.name = \(device) AND e.ts_ms >= \(window.startMillis) AND e.ts_ms < \(window.endMillis)
            ORDER BY e.ts_ms DESC LIMIT \(limit)
            """, logger: logger)
        var result: [EventRow] = []
        for try await (ts, kind, rule, sensor, severity, value, message) in rows.decode((Int64, String, String, String, String, Double?, String?).self) {
            result.append(EventRow(timestampMillis: ts, kind: kind, rule: rule, sensor: sensor, severity: severity, value: value, message: message))
        }
        return result
    }

    struct HealthRow: Sendable {
        var takenAtMillis: Int64
        var status: String
        var reasons: [String]
    }

    /// The window's health reports, newest first, at most `limit`.
    func healthHistory(device: String, window: ChartWindow, limit: Int = 100) async throws -> [HealthRow] {
        let rows = try await client.query("""
            SELECT h.taken_at_ms, h.report->>'status', COALESCE((h.report->'reasons')::text, '[]')
            FROM health h JOIN devices d ON d.id = h.device_id
            WHERE d.name = \(device) AND h.taken_at_ms >= \(window.startMillis) AND h.taken_at_ms < \(window.endMillis)
            ORDER BY h.taken_at_ms DESC LIMIT \(limit)
            """, logger: logger)
        var result: [HealthRow] = []
        for try await (ts, status, reasons) in rows.decode((Int64, String?, String).self) {
            let list = (try? JSONDecoder().decode([String].self, from: Data(reasons.utf8))) ?? []
            result.append(HealthRow(takenAtMillis: ts, status: status ?? "unknown", reasons: list))
        }
        return result
    }

    /// Finished delivery attempts' latency (every worker's, from the queue's `job_attempts`)
    /// in `window`'s buckets: min, max and mean per bucket, in milliseconds.
    func deliveryLatency(window: ChartWindow) async throws -> [Bucket] {
        let rows = try await client.query("""
            SELECT ((extract(epoch FROM at) * 1000)::int8 - \(window.startMillis)) / \(window.bucketMillis) AS bucket,
                   min(latency_ms), max(latency_ms), avg(latency_ms), count(*)
            FROM job_attempts
            WHERE latency_ms IS NOT NULL AND at >= to_timestamp(\(Double(window.startMillis) / 1000))
              AND at < to_timestamp(\(Double(window.endMillis) / 1000))
            GROUP BY bucket ORDER BY bucket
            """, logger: logger)
        var result: [Bucket] = []
        for try await (bucket, low, high, mean, count) in rows.decode((Int64, Double, Double, Double, Int64).self) {
            result.append(Bucket(index: Int(bucket), min: low, max: high, mean: mean, count: Int(count)))
        }
        return result
    }

    /// Connections to this database by state (`active`, `idle`, …), every client's: what the
    /// pool and any other server hold.
    func connectionsByState() async throws -> [String: Int] {
        let rows = try await client.query("""
            SELECT COALESCE(state, 'unknown'), count(*)::int8 FROM pg_stat_activity
            WHERE datname = current_database() AND backend_type = 'client backend' GROUP BY 1
            """, logger: logger)
        var result: [String: Int] = [:]
        for try await (state, count) in rows.decode((String, Int64).self) { result[state] = Int(count) }
        return result
    }
}
