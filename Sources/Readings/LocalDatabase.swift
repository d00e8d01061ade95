#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EdgeCore
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Why a database could not be opened for reading, in words that say what to do.
public enum LocalDatabaseError: Error, Equatable, CustomStringConvertible {
    case missing(path: String)
    case notAReadingsDatabase(path: String)
    case corrupt(path: String, detail: String)

    /// `.corrupt` for an error for which `LocalDatabase.isCorruption` holds, with SQLite's words.
    public static func corrupt(path: String, error: any Error) -> LocalDatabaseError {
        .corrupt(path: path, detail: LocalDatabase.describe(error))
    }

    public var description: String {
        switch self {
        case .missing(let path):
            "no database at \(path): has `edge-agent run` run with this data directory? (use --data-dir or --config)"
        case .notAReadingsDatabase(let path):
            "\(path) is not an edge-agent database, or the daemon has not finished creating it; start `edge-agent run` once and try again"
        case .corrupt(let path, let detail):
            "\(path) is damaged (\(detail)); it was left as it is: stop the daemon and run `edge-agent run` to quarantine it, or copy it elsewhere to salvage"
        }
    }
}

/// The device's one SQLite file: readings, and the tables other stages (AlertEngine, Sync)
/// add through their own migrators on `writer`.
///
/// Opened in WAL mode so that `edge-agent readings dump` in another process reads while the
/// daemon writes. `synchronous=NORMAL` means a commit is a write into the WAL without an
/// fsync; the WAL is synced at each checkpoint, which `ReadingWriter` runs periodically, so
/// the power-cut loss window is bounded (see docs/STORAGE.md).
public final class LocalDatabase: Sendable {
    /// The WAL is truncated back to this size whenever it is reset after a checkpoint, so a
    /// burst (a retention delete) does not leave a large file behind.
    public static let journalSizeLimit: Int64 = 1 << 20
    /// Pages after which SQLite checkpoints on commit by itself (256 × 4 KiB = the limit above).
    static let autoCheckpointPages = 256
    /// How long a writer waits for another process's write lock before failing with SQLITE_BUSY.
    static let busyTimeout: TimeInterval = 5

    /// The most identity resets `identityResets` lists (the newest); the table keeps all.
    public static let identityResetsShown = 20
    /// A reason longer than this is cut when stored: it is a log line, not a document.
    public static let maxResetReasonLength = 500

    public let path: String
    public let writer: DatabasePool
    /// Opened by `openReadOnly`: every write fails with SQLITE_READONLY.
    public let isReadOnly: Bool
    /// Where the previous, unreadable file was moved, when `open` had to start afresh.
    /// The agent reports it in its health and logs.
    public let recoveredFrom: String?
    private let clock: any DeviceClock
    private let identity: Mutex<Identity>

    struct Identity: Sendable {
        var storeID: String
        var resets: [String]
    }

    /// Created once per database file; a wiped or replaced file gets a new one, and so does a
    /// store whose sequences went backwards (`startNewStoreIdentity`), so (store id, sequence)
    /// never names two different readings.
    public var storeID: String { identity.withLock { $0.storeID } }

    /// The newest `identityResetsShown` store id changes of this file, oldest first, each as
    /// `<UTC time>: <reason> (store id <old> replaced by <new>)`. Health shows them.
    public var identityResets: [String] { identity.withLock { $0.resets } }

    private init(path: String, writer: DatabasePool, isReadOnly: Bool, identity: Identity, recoveredFrom: String?, clock: any DeviceClock) {
        self.path = path
        self.writer = writer
        self.isReadOnly = isReadOnly
        self.identity = Mutex(identity)
        self.recoveredFrom = recoveredFrom
        self.clock = clock
    }

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// A file SQLite cannot read as a database (not a database, or corrupt) is moved aside,
    /// with its `-wal` and `-shm`, to `<path>.corrupt-<UTC timestamp>`, and a fresh database
    /// takes its place: readings keep landing rather than the agent stopping. Busy or
    /// permission errors are thrown as they are: moving a healthy file aside would lose data.
    ///
    /// - Parameters:
    ///   - clock: names the moved-aside file.
    ///   - recover: false throws `LocalDatabaseError.corrupt` instead of moving the file: for
    ///     CLI commands that write (acknowledging an alert), which must leave recovery to the
    ///     daemon, running as the service's user.
    public static func open(path: String, clock: any DeviceClock = SystemDeviceClock(), recover: Bool = true) throws -> LocalDatabase {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        do {
            return try openUnchecked(path: path, recoveredFrom: nil, clock: clock)
        } catch let error as DatabaseError where isCorruption(error) {
            guard recover else { throw LocalDatabaseError.corrupt(path: path, error: error) }
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
        return try openUnchecked(path: path, recoveredFrom: aside, clock: clock)
    }

    /// Opens an existing database for reading only, for the CLI and for salvaging a
    /// quarantined file: nothing is created, migrated, inserted or moved, whoever runs it
    /// (as root, a created or moved file would be root's and the service could not open it).
    /// SQLite may create the `-wal` and `-shm` beside it if the daemon is not running, with
    /// the database's owner; the database file itself is not written.
    ///
    /// - Throws: `LocalDatabaseError` when the file is missing, has no readings schema, or
    ///   SQLite cannot read it as a database.
    public static func openReadOnly(path: String) throws -> LocalDatabase {
        guard FileManager.default.fileExists(atPath: path) else { throw LocalDatabaseError.missing(path: path) }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        configuration.maximumReaderCount = 2
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            let identity = try pool.read { db -> Identity? in
                guard try db.tableExists("store_identity"),
                      let storeID = try String.fetchOne(db, sql: "SELECT store_id FROM store_identity WHERE id = 1")
                else { return nil }
                return Identity(storeID: storeID, resets: try Schema.identityResets(db, limit: identityResetsShown))
            }
            guard let identity else { throw LocalDatabaseError.notAReadingsDatabase(path: path) }
            return LocalDatabase(path: path, writer: pool, isReadOnly: true, identity: identity, recoveredFrom: nil,
                                 clock: SystemDeviceClock())
        } catch let error as DatabaseError where isCorruption(error) {
            throw LocalDatabaseError.corrupt(path: path, error: error)
        }
    }

    /// Gives the store a new store id from now on and records why.
    ///
    /// For a store whose sequences went backwards (a lost WAL, a power cut before a
    /// checkpoint): sequences it hands out again would name readings the server already has
    /// under the old id. Every row the file holds is under the new id from now on (the id is
    /// the store's, not the row's), so rows not yet sent go out under it too; rows the server
    /// already had under the old id may then arrive a second time under the new one, as new
    /// readings rather than as duplicates hiding a different value.
    ///
    /// - Returns: the new store id. The caller logs the change; `identityResets` lists it.
    @discardableResult
    public func startNewStoreIdentity(reason: String) throws -> String {
        let reason = String(reason.prefix(Self.maxResetReasonLength))
        let now = clock.now().unixMillis
        let created = UUID().uuidString.lowercased()
        let resets = try writer.write { db in
            let old = try Schema.storeID(db)
            try db.execute(sql: "UPDATE store_identity SET store_id = ? WHERE id = 1", arguments: [created])
            try db.execute(
                sql: "INSERT INTO store_identity_resets (at_ms, old_store_id, new_store_id, reason) VALUES (?, ?, ?, ?)",
                arguments: [now, old, created, reason])
            return try Schema.identityResets(db, limit: Self.identityResetsShown)
        }
        identity.withLock { $0 = Identity(storeID: created, resets: resets) }
        return created
    }

    /// Whether `error` says the file's contents are unusable (rather than locked or unreadable).
    public static func isCorruption(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT
    }

    /// SQLite's own words for a database error ("database disk image is malformed"),
    /// without the statement: short enough for a health reason.
    public static func describe(_ error: any Error) -> String {
        (error as? DatabaseError).map { $0.message ?? "\($0.resultCode)" } ?? "\(error)"
    }

    private static func openUnchecked(path: String, recoveredFrom: String?, clock: any DeviceClock) throws -> LocalDatabase {
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
            // SQLite deletes `<path>-wal` and `-shm` by name when the last connection closes.
            // After a quarantine moved the files aside, that name is the new database's WAL:
            // with a persistent WAL the old connections leave it alone (theirs is truncated
            // through its descriptor instead).
            var persist: CInt = 1
            let code = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
            guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "cannot keep the WAL on close") }
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try Schema.migrator.migrate(pool)
        let identity = try pool.write { db in
            Identity(storeID: try Schema.storeID(db), resets: try Schema.identityResets(db, limit: identityResetsShown))
        }
        return LocalDatabase(path: path, writer: pool, isReadOnly: false, identity: identity, recoveredFrom: recoveredFrom, clock: clock)
    }

    /// An in-memory database for a stage that must go on while the file cannot be opened:
    /// the daemon keeps its alert state here while storage is down. Gone at exit.
    public static func scratchWriter() throws -> any DatabaseWriter {
        try DatabaseQueue()
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
