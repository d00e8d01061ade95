import EdgeCore
import GRDB
import Readings

/// Synthetic readings: `sensors` sensors polled round-robin once a second, values that change
/// every reading. Built before timing, so the loops measure the store, not string building.
struct IngestRows {
    struct Row {
        var sensor: Int
        var time: DeviceTime
        var value: Double
    }

    let sensorIDs: [String]
    private let rows: [Row]

    init(count: Int, sensors: Int = 10, startMillis: Int64 = 1_767_225_600_000) {
        sensorIDs = (0..<sensors).map { "sensor\($0)" }
        rows = (0..<count).map { index in
            let second = Int64(index / sensors)
            return Row(
                sensor: index % sensors,
                time: DeviceTime(
                    unixMillis: startMillis + second * 1000,
                    bootNanos: 10_000_000_000 + UInt64(second) * 1_000_000_000,
                    synchronized: true),
                value: 25 + Double(index % 1000) / 1000)
        }
    }

    var count: Int { rows.count }
    subscript(index: Int) -> Row { rows[index] }
}

/// Local ingest: readings/s through `ReadingWriter` (append, group commit at `maxRows`)
/// against the sqlite3 C API doing the same inserts in transactions of the same size, on a
/// file made by the same migration with the same connection pragmas.
struct IngestBenchmark {
    enum Path: String, CaseIterable, Sendable {
        case store, raw
    }

    let rows: IngestRows
    let batch = GroupCommitPolicy().maxRows

    init(readings: Int) {
        rows = IngestRows(count: readings)
    }

    func figures(runs: Int) throws -> [Figure] {
        var store: [Double] = []
        var raw: [Double] = []
        for run in 0..<runs {
            // Alternating the order spreads the machine's background load over both paths.
            let order: [Path] = run.isMultiple(of: 2) ? [.store, .raw] : [.raw, .store]
            for path in order {
                let rate = Double(rows.count) / (try measure(path))
                if path == .store { store.append(rate) } else { raw.append(rate) }
            }
        }
        return [
            Figure(name: "ingest: raw SQLite C API", unit: "readings/s", samples: raw),
            Figure(
                name: "ingest: ReadingWriter (append + group commit)", unit: "readings/s",
                samples: store, baseline: raw, goals: [.fractionOfBaseline(0.5)]),
        ]
    }

    /// Seconds one path takes to commit every row into a fresh database.
    func measure(_ path: Path) throws -> Double {
        let scratch = try Scratch("ingest")
        let file = scratch.file("edge.sqlite")
        let elapsed: Double
        let committed: Int64
        switch path {
        case .store:
            let database = try LocalDatabase.open(path: file)
            let store = try ReadingWriter(database: database, clock: SystemDeviceClock())
            elapsed = try seconds {
                for index in 0..<rows.count {
                    let row = rows[index]
                    try store.append(Sample(
                        sensorID: rows.sensorIDs[row.sensor], value: row.value, unit: "°C",
                        quality: .ok, time: row.time))
                }
                try store.flush()
            }
            committed = try database.writer.read { try Int64.fetchOne($0, sql: "SELECT count(*) FROM readings") ?? 0 }
        case .raw:
            let (pragmas, seriesIDs, bootRow) = try prepareRawFile(file)
            let sqlite = try RawSQLite(path: file)
            for pragma in pragmas { try sqlite.execute(pragma) }
            elapsed = try seconds {
                try sqlite.insert(rows, seriesIDs: seriesIDs, bootRow: bootRow, batch: batch)
            }
            committed = try sqlite.int64("SELECT count(*) FROM readings")
        }
        guard committed == Int64(rows.count) else {
            throw BenchError("ingest \(path): \(committed) rows committed, expected \(rows.count)")
        }
        return elapsed
    }

    /// Creates the file through `LocalDatabase.open` (the store's migration), interns the
    /// series and the boot as the store would, and reads back the writer connection's
    /// pragmas so the raw connection runs with exactly the same settings.
    private func prepareRawFile(_ file: String) throws -> (pragmas: [String], seriesIDs: [Int64], bootRow: Int64) {
        let database = try LocalDatabase.open(path: file)
        return try database.writer.write { db in
            try db.execute(sql: "INSERT INTO boots (boot_id) VALUES ('bench')")
            let bootRow = db.lastInsertedRowID
            var seriesIDs: [Int64] = []
            for id in rows.sensorIDs {
                try db.execute(sql: "INSERT INTO series (sensor_id, unit) VALUES (?, '°C')", arguments: [id])
                seriesIDs.append(db.lastInsertedRowID)
            }
            var pragmas: [String] = []
            for name in ["journal_mode", "synchronous", "journal_size_limit", "wal_autocheckpoint", "busy_timeout", "foreign_keys"] {
                let value = try String.fetchOne(db, sql: "PRAGMA \(name)") ?? ""
                pragmas.append("PRAGMA \(name) = \(value)")
            }
            return (pragmas, seriesIDs, bootRow)
        }
    }
}
