import EdgeCore
import EdgeTesting
import Foundation
import GRDB
import Testing
@testable import Readings

@Suite struct LocalDatabaseTests {
    @Test func opensInWALWithBoundedJournalAndIncrementalVacuum() throws {
        let dir = try TemporaryDirectory()
        let database = try LocalDatabase.open(path: dir.databasePath)
        let pragmas = try database.writer.writeWithoutTransaction { db in
            [
                try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                try String.fetchOne(db, sql: "PRAGMA synchronous"),
                try String.fetchOne(db, sql: "PRAGMA journal_size_limit"),
                try String.fetchOne(db, sql: "PRAGMA auto_vacuum"),
                try String.fetchOne(db, sql: "PRAGMA wal_autocheckpoint"),
            ]
        }
        #expect(pragmas == ["wal", "1", "1048576", "2", "256"])
        #expect(database.recoveredFrom == nil)
    }

    @Test func storeIDSurvivesReopenAndAWipedDatabaseGetsANewOne() throws {
        let dir = try TemporaryDirectory()
        let first = try LocalDatabase.open(path: dir.databasePath).storeID
        let reopened = try LocalDatabase.open(path: dir.databasePath).storeID
        #expect(first == reopened)
        #expect(UUID(uuidString: first) != nil)

        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dir.databasePath + suffix) }
        let wiped = try LocalDatabase.open(path: dir.databasePath).storeID
        #expect(wiped != first)
    }

    @Test func corruptFileIsMovedAsideAndReported() throws {
        let dir = try TemporaryDirectory()
        let garbage = Data(repeating: 0x5A, count: 8192)
        try garbage.write(to: URL(fileURLWithPath: dir.databasePath))
        let clock = ManualDeviceClock(unixMillis: epoch + 3_723_000) // 01:02:03

        let database = try LocalDatabase.open(path: dir.databasePath, clock: clock)

        let aside = dir.databasePath + ".corrupt-20260101T010203Z"
        #expect(database.recoveredFrom == aside)
        #expect(FileManager.default.contents(atPath: aside) == garbage)
        let store = try ReadingWriter(database: database, clock: clock)
        try store.append("tank", 25.5, at: clock.now())
        try store.flush()
        #expect(try store.all().map(\.sequence) == [1])
        #expect(try LocalDatabase.open(path: dir.databasePath).recoveredFrom == nil)
    }

    @Test func corruptionFoundWhileRunningIsRecoveredByRecreate() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let database = try LocalDatabase.open(path: dir.databasePath, clock: clock)
        let store = try ReadingWriter(database: database, clock: clock)
        for i in 0..<500 { try store.append("tank", Double(i), at: clock.now()) }
        try store.flush()
        let (rootPage, pageSize) = try database.writer.writeWithoutTransaction { db in
            _ = try db.checkpoint(.truncate)
            return (
                try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = 'readings'")!,
                try Int.fetchOne(db, sql: "PRAGMA page_size")!
            )
        }
        try database.writer.close()
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.databasePath))
        try file.seek(toOffset: UInt64((rootPage - 1) * pageSize))
        try file.write(contentsOf: Data(repeating: 0xFF, count: pageSize))
        try file.close()

        // The schema is intact, so opening succeeds; the damage shows when readings are read.
        let damaged = try LocalDatabase.open(path: dir.databasePath, clock: clock)
        #expect(damaged.recoveredFrom == nil)
        let error = #expect(throws: DatabaseError.self) { try ReadingWriter(database: damaged, clock: clock).all() }
        #expect(LocalDatabase.isCorruption(try #require(error)))

        let fresh = try LocalDatabase.recreate(path: dir.databasePath, clock: clock)
        #expect(fresh.recoveredFrom == dir.databasePath + ".corrupt-20260101T000000Z")
        #expect(fresh.storeID != database.storeID)
        #expect(try ReadingWriter(database: fresh, clock: clock).all() == [])
    }

    @Test func corruptionIsToldApartFromBusy() {
        #expect(LocalDatabase.isCorruption(DatabaseError(resultCode: .SQLITE_NOTADB)))
        #expect(LocalDatabase.isCorruption(DatabaseError(resultCode: .SQLITE_CORRUPT)))
        #expect(!LocalDatabase.isCorruption(DatabaseError(resultCode: .SQLITE_BUSY)))
        #expect(!LocalDatabase.isCorruption(DatabaseError(resultCode: .SQLITE_CANTOPEN)))
    }

    @Test func bytesOnDiskCountsTheDatabaseAndItsWAL() throws {
        let dir = try TemporaryDirectory()
        let database = try LocalDatabase.open(path: dir.databasePath)
        func size(_ suffix: String) -> Int64 {
            (try? FileManager.default.attributesOfItem(atPath: dir.databasePath + suffix)[.size] as? Int64) ?? 0
        }
        let walBefore = size("-wal")
        let store = try ReadingWriter(database: database, clock: ManualDeviceClock())
        for i in 0..<200 { try store.append("tank", Double(i), at: ManualDeviceClock().now()) }
        try store.flush()
        #expect(size("-wal") > walBefore)
        #expect(database.bytesOnDisk() == size("") + size("-wal") + size("-shm"))
    }

    @Test func corruptFileNameIsUTC() {
        #expect(LocalDatabase.fileTimestamp(epoch) == "20260101T000000Z")
        #expect(LocalDatabase.fileTimestamp(951_868_799_999) == "20000229T235959Z")
    }
}
