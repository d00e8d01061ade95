import GRDB

/// What is read back from the readings: by the CLI (on a read-only `LocalDatabase`), by
/// Sync, by the health report and by retention. Writes nothing, so a CLI process never
/// takes the daemon's writer role; `ReadingWriter` is the only writer of these tables.
public struct ReadingQueries: Sendable {
    /// The largest `limit` a read accepts: reads return arrays, and memory stays bounded.
    public static let maxLimit = 100_000

    public let database: LocalDatabase
    /// The boot whose clock-unsynced readings may still be re-stamped; nil for a process that
    /// takes no readings (the CLI's read-only views), for which none are.
    let bootID: String?

    public init(database: LocalDatabase, bootID: String?) {
        self.database = database
        self.bootID = bootID
    }

    /// The highest sequence ever handed out, from `sqlite_sequence`: it stays when retention
    /// deletes the newest rows, and goes backwards only if committed transactions were lost
    /// (a lost WAL, a power cut before a checkpoint). 0 for a store that never committed one.
    public func highestSequenceIssued() throws -> Int64 {
        try database.writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'readings'") ?? 0
        }
    }

    /// The lowest sequence among this boot's readings still waiting for `synchronizeClock()`,
    /// or nil. Their timestamps will change: Sync can hold batches below it so that the server
    /// gets corrected timestamps (or decide to send provisional ones after a while).
    public func firstCorrectableSequence() throws -> Int64? {
        guard let bootID else { return nil }
        return try database.writer.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT min(sequence) FROM readings WHERE clock_unsynced = 1 AND boot_id = (SELECT id FROM boots WHERE boot_id = ?)",
                arguments: [bootID])
        }
    }

    /// When reading `sequence` was taken, on its boot's monotonic clock (`boot_ns`); nil if
    /// there is no such reading. With `firstCorrectableSequence()` it dates Sync's clock hold.
    public func bootNanos(ofSequence sequence: Int64) throws -> Int64? {
        try database.writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT boot_ns FROM readings WHERE sequence = ?", arguments: [sequence])
        }
    }

    // MARK: - Reading back

    static let selectReadings = """
        SELECT r.sequence, s.sensor_id, r.ts_ms, r.value, s.unit, r.quality, r.clock_unsynced
        FROM readings r JOIN series s ON s.id = r.series_id
        """

    static func fetchReadings(_ db: Database, sql: String, arguments: StatementArguments) throws -> [Reading] {
        try Row.fetchCursor(db, sql: sql, arguments: arguments).map { row in
            Reading(
                sequence: row[0], sensorID: row[1], timestampMillis: row[2], value: row[3], unit: row[4],
                quality: Schema.quality(code: row[5]), clockSynchronized: !(row[6] as Bool))
        }.reduce(into: []) { $0.append($1) }
    }

    private func checkLimit(_ limit: Int) throws {
        guard (1...Self.maxLimit).contains(limit) else { throw ReadingStoreError.invalidLimit(limit) }
    }

    /// Committed readings with a sequence above `afterSequence`, ascending: Sync streams the
    /// backlog in batches with it, never loading it whole.
    public func readings(afterSequence: Int64, limit: Int) throws -> [Reading] {
        try checkLimit(limit)
        return try database.writer.read { db in
            try Self.fetchReadings(
                db, sql: Self.selectReadings + " WHERE r.sequence > ? ORDER BY r.sequence LIMIT ?",
                arguments: [afterSequence, limit])
        }
    }

    /// How many committed readings lie beyond `afterSequence`, and the timestamp of the oldest.
    public func backlog(afterSequence: Int64) throws -> (count: Int, oldestMillis: Int64?) {
        try database.writer.read { db in
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM readings WHERE sequence > ?", arguments: [afterSequence]) ?? 0
            let oldest = try Int64.fetchOne(
                db, sql: "SELECT ts_ms FROM readings WHERE sequence > ? ORDER BY sequence LIMIT 1",
                arguments: [afterSequence])
            return (count, oldest)
        }
    }

    /// Committed readings in a time window (both bounds inclusive), ordered by timestamp,
    /// then sequence. `limit` nil means all, up to `maxLimit`.
    public func query(sensorID: String?, sinceMillis: Int64?, untilMillis: Int64?, limit: Int?, newestFirst: Bool) throws -> [Reading] {
        try checkLimit(limit ?? Self.maxLimit)
        let window = Window(sensorID: sensorID, sinceMillis: sinceMillis, untilMillis: untilMillis)
        let order = newestFirst ? "DESC" : "ASC"
        var arguments = window.arguments
        arguments += [limit ?? Self.maxLimit]
        return try database.writer.read { db in
            try Self.fetchReadings(
                db,
                sql: Self.selectReadings + window.whereClause + " ORDER BY r.ts_ms \(order), r.sequence \(order) LIMIT ?",
                arguments: arguments)
        }
    }

    /// The newest reading (by sequence: provisional timestamps of an unsynchronised clock
    /// may lie in the past) of each sensor, ordered by sensor id.
    public func latest() throws -> [Reading] {
        let lasts = try database.writer.read { db in
            try Self.fetchReadings(
                db, sql: Self.selectReadings + " WHERE r.sequence IN (SELECT last_sequence FROM series) ORDER BY s.sensor_id, r.sequence DESC",
                arguments: [])
        }
        var seen = Set<String>()
        return lasts.filter { seen.insert($0.sensorID).inserted }
    }
}

/// A `WHERE` clause over `readings r` for an optional sensor and time window.
struct Window {
    var whereClause = ""
    var arguments: StatementArguments = []

    init(sensorID: String?, sinceMillis: Int64?, untilMillis: Int64?) {
        var conditions: [String] = []
        if let sensorID {
            conditions.append("r.series_id IN (SELECT id FROM series WHERE sensor_id = ?)")
            arguments += [sensorID]
        }
        if let sinceMillis {
            conditions.append("r.ts_ms >= ?")
            arguments += [sinceMillis]
        }
        if let untilMillis {
            conditions.append("r.ts_ms <= ?")
            arguments += [untilMillis]
        }
        if !conditions.isEmpty { whereClause = " WHERE " + conditions.joined(separator: " AND ") }
    }
}
