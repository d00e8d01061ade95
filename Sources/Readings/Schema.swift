import EdgeCore
import Foundation
import GRDB

/// The readings tables. Sensor ids, units and boot ids are interned: a row then costs
/// about 55 bytes on disk instead of about 118 with the text repeated (measured on
/// 100 000 rows over four sensors, table plus index; see docs/STORAGE.md).
enum Schema {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("readings.v1") { db in
            try db.execute(sql: """
                CREATE TABLE store_identity (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    store_id TEXT NOT NULL
                );
                -- One row per (sensor id, unit): a profile that changes a sensor's unit starts
                -- a new series rather than mixing units under one id.
                CREATE TABLE series (
                    id INTEGER PRIMARY KEY,
                    sensor_id TEXT NOT NULL,
                    unit TEXT NOT NULL,
                    last_sequence INTEGER,
                    UNIQUE (sensor_id, unit)
                );
                CREATE TABLE boots (
                    id INTEGER PRIMARY KEY,
                    boot_id TEXT NOT NULL UNIQUE
                );
                -- AUTOINCREMENT: a sequence is never handed out twice, even after retention
                -- deleted the newest rows.
                CREATE TABLE readings (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    series_id INTEGER NOT NULL REFERENCES series(id),
                    ts_ms INTEGER NOT NULL,
                    value REAL NOT NULL,
                    quality INTEGER NOT NULL,
                    clock_unsynced INTEGER NOT NULL,
                    boot_id INTEGER NOT NULL REFERENCES boots(id),
                    boot_ns INTEGER NOT NULL
                );
                CREATE INDEX readings_series_ts ON readings(series_id, ts_ms);
                -- Small: only rows still waiting for the clock to be synchronised.
                CREATE INDEX readings_unsynced ON readings(boot_id) WHERE clock_unsynced = 1;
                CREATE TABLE dropped_readings (
                    sensor_id TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    first_ts_ms INTEGER NOT NULL,
                    last_ts_ms INTEGER NOT NULL,
                    PRIMARY KEY (sensor_id, reason)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("readings.v2-identity-resets") { db in
            try db.execute(sql: """
                -- Why the store id changed (LocalDatabase.startNewStoreIdentity), for health.
                CREATE TABLE store_identity_resets (
                    id INTEGER PRIMARY KEY,
                    at_ms INTEGER NOT NULL,
                    old_store_id TEXT NOT NULL,
                    new_store_id TEXT NOT NULL,
                    reason TEXT NOT NULL
                );
                """)
        }
        return migrator
    }()

    /// The newest `limit` identity resets, oldest first, as `LocalDatabase.identityResets`
    /// shows them. A file from before the table existed (read-only) has none.
    static func identityResets(_ db: Database, limit: Int) throws -> [String] {
        guard try db.tableExists("store_identity_resets") else { return [] }
        let rows = try Row.fetchAll(db, sql: """
            SELECT at_ms, old_store_id, new_store_id, reason FROM store_identity_resets
            ORDER BY id DESC LIMIT ?
            """, arguments: [limit])
        return rows.reversed().map { row in
            let at: Int64 = row[0]
            let old: String = row[1], new: String = row[2], reason: String = row[3]
            return "\(LocalDatabase.fileTimestamp(at)): \(reason) (store id \(old) replaced by \(new))"
        }
    }

    /// The store id, created in the same transaction that first asks for it.
    static func storeID(_ db: Database) throws -> String {
        if let existing = try String.fetchOne(db, sql: "SELECT store_id FROM store_identity WHERE id = 1") {
            return existing
        }
        let created = UUID().uuidString.lowercased()
        try db.execute(sql: "INSERT INTO store_identity (id, store_id) VALUES (1, ?)", arguments: [created])
        return created
    }

    /// Stored quality codes. The clock state is the separate `clock_unsynced` flag, so the
    /// measured quality is kept while a timestamp is provisional.
    static func code(_ quality: SampleQuality) -> Int64 {
        switch quality {
        case .ok: 0
        case .filtered: 1
        case .suspect: 2
        }
    }

    static func quality(code: Int64) -> SampleQuality {
        switch code {
        case 1: return .filtered
        case 2: return .suspect
        default: return .ok
        }
    }
}
