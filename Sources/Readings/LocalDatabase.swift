#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EdgeCore
import Foundation
import GRDB

/// The device's one SQLite file: readings, and the tables other stages (AlertEngine, Sync)
/// add through their own migrators on `writer`.
///
/// Opened in WAL mode so that `edge-agent readings dump` in another process reads while the
/// daemon writes. `synchronous=NORMAL` means a commit is a write into the WAL without an
/// fsync; the WAL is synced at each checkpoint, which `ReadingStore` runs periodically, so
/// the power-cut loss window is bounded (see docs/STORAGE.md).
public final class LocalDatabase: Sendable {
    /// The WAL is truncated back to this size whenever it is reset after a checkpoint, so a
    /// burst (a retention delete) does not leave a large file behind.
    public static let journalSizeLimit: Int64 = 1 << 20
    /// Pages after which SQLite checkpoints on commit by itself (256 × 4 KiB = the limit above).
    static let autoCheckpointPages = 256
    /// How long a writer waits for another process's write lock before failing with SQLITE_BUSY.
    static let busyTimeout: TimeInterval = 5

    public let path: String
    public let writer: DatabasePool
    /// Created once per database file; a wiped or replaced file gets a new one, so
    /// (store id, sequence) never names two different readings.
    public let storeID: String
    /// Where the previous, unreadable file was moved, when `open` had to start afresh.
    /// The agent reports it in its health and logs.
    public let recoveredFrom: String?

    private init(path: String, writer: DatabasePool, storeID: String, recoveredFrom: String?) {
        self.path = path
        self.writer = writer
        self.storeID = storeID
        self.recoveredFrom = recoveredFrom
    }

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// A file SQLite cannot read as a database (not a database, or corrupt) is moved aside,
    /// with its `-wal` and `-shm`, to `<path>.corrupt-<UTC timestamp>`, and a fresh database
    /// takes its place: readings keep landing rather than the agent stopping. Busy or
    /// permission errors are thrown as they are: moving a healthy file aside would lose data.
    ///
    /// - Parameter clock: names the moved-aside file.
    public static func open(path: String, clock: any DeviceClock = SystemDeviceClock()) throws -> LocalDatabase {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        do {
            return try openUnchecked(path: path, recoveredFrom: nil)
        } catch let error as DatabaseError where isCorruption(error) {
            return try recreate(path: path, clock: clock)
        }
    }

    /// Moves the file at `path` (with its `-wal` and `-shm`) to `<path>.corrupt-<UTC timestamp>`
    /// and opens a fresh database in its place. For corruption found while running: when a
    /// store's call throws an error for which `isCorruption` is true, the agent calls this and
    /// builds its stores again on the result.
    public static func recreate(path: String, clock: any DeviceClock = SystemDeviceClock()) throws -> LocalDatabase {
        let aside = "\(path).corrupt-\(fileTimestamp(clock.now().unixMillis))"
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.moveItem(atPath: path + suffix, toPath: aside + suffix)
        }
        return try openUnchecked(path: path, recoveredFrom: aside)
    }

    /// Whether `error` says the file's contents are unusable (rather than locked or unreadable).
    public static func isCorruption(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT
    }

    private static func openUnchecked(path: String, recoveredFrom: String?) throws -> LocalDatabase {
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.maximumReaderCount = 2
        configuration.prepareDatabase { db in
            guard !db.configuration.readonly else { return }
            // auto_vacuum only takes effect on a new file, before the first table: it is
            // what lets retention give freed pages back to the filesystem without VACUUM.
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA journal_size_limit = \(journalSizeLimit)")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(autoCheckpointPages)")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try Schema.migrator.migrate(pool)
        let storeID = try pool.write { db in try Schema.storeID(db) }
        return LocalDatabase(path: path, writer: pool, storeID: storeID, recoveredFrom: recoveredFrom)
    }

    /// Bytes the database occupies on disk: the main file, its WAL and its shared-memory index.
    public func bytesOnDisk() -> Int64 {
        bytesOnDisk(suffixes: ["", "-wal", "-shm"])
    }

    func bytesOnDisk(suffixes: [String]) -> Int64 {
        suffixes.reduce(0) { total, suffix in
            var info = stat()
            return stat(path + suffix, &info) == 0 ? total + Int64(info.st_size) : total
        }
    }

    /// Bytes available to an unprivileged process on the filesystem holding the database.
    public func freeBytesOnFilesystem() -> Int64? {
        var info = statvfs()
        let directory = (path as NSString).deletingLastPathComponent
        guard statvfs(directory.isEmpty ? "." : directory, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

    /// `20260101T000000Z`: sortable and free of characters shells and filesystems dislike.
    static func fileTimestamp(_ unixMillis: Int64) -> String {
        var seconds = time_t(unixMillis / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
