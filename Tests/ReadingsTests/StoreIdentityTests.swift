import EdgeCore
import EdgeTesting
import Foundation
import GRDB
import Testing
@testable import Readings

/// Every file in a directory with its bytes and modification time: what "left alone" means.
struct DirectorySnapshot: Equatable {
    struct File: Equatable {
        var bytes: Data
        var modified: Date?
    }
    var files: [String: File]

    init(_ directory: String) throws {
        var files: [String: File] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            let path = directory + "/" + name
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            files[name] = File(bytes: FileManager.default.contents(atPath: path) ?? Data(),
                               modified: attributes[.modificationDate] as? Date)
        }
        self.files = files
    }
}

@Suite struct ReadOnlyOpenTests {
    /// A database the daemon wrote and closed: three readings, no WAL left behind.
    func closedDatabase(_ dir: TemporaryDirectory, clock: ManualDeviceClock) throws -> String {
        let database = try LocalDatabase.open(path: dir.databasePath, clock: clock)
        let store = try ReadingWriter(database: database, clock: clock)
        for value in [1.5, 2.5, 3.5] { try store.append("tank", value, at: clock.now()) }
        try store.flush()
        try database.writer.close()
        return database.storeID
    }

    @Test func readsWithoutWritingTheFileOrAddingABoot() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let storeID = try closedDatabase(dir, clock: clock)
        let before = try DirectorySnapshot(dir.path)
        // The WAL is persistent (see LocalDatabase): empty, not deleted, after a clean close.
        #expect(before.files.keys.sorted() == ["edge.sqlite", "edge.sqlite-shm", "edge.sqlite-wal"])
        #expect(before.files["edge.sqlite-wal"]?.bytes == Data())

        let database = try LocalDatabase.openReadOnly(path: dir.databasePath)
        let store = ReadingQueries(database: database, bootID: "another-boot")
        #expect(database.isReadOnly)
        #expect(database.storeID == storeID)
        #expect(try store.all().map(\.value) == [1.5, 2.5, 3.5])
        #expect(try store.highestSequenceIssued() == 3)
        #expect(try database.writer.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM boots") } == 1)
        try database.writer.close()

        // The shared-memory index holds readers' marks, so only it may change.
        let after = try DirectorySnapshot(dir.path)
        #expect(after.files.keys.sorted() == before.files.keys.sorted())
        #expect(after.files["edge.sqlite"] == before.files["edge.sqlite"])
        #expect(after.files["edge.sqlite-wal"] == before.files["edge.sqlite-wal"])
    }

    @Test func aWriteThroughAReadOnlyOpenFails() throws {
        let dir = try TemporaryDirectory()
        _ = try closedDatabase(dir, clock: ManualDeviceClock())
        let database = try LocalDatabase.openReadOnly(path: dir.databasePath)
        let error = #expect(throws: DatabaseError.self) { try database.startNewStoreIdentity(reason: "test") }
        #expect(error?.resultCode == .SQLITE_READONLY)
    }

    @Test func seesWhatARunningWriterCommitted() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let writer = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        try writer.append("tank", 7.25, at: clock.now())
        try writer.flush()
        let reader = ReadingQueries(database: try LocalDatabase.openReadOnly(path: dir.databasePath), bootID: clock.bootID)
        #expect(try reader.all().map(\.value) == [7.25])
        try writer.append("tank", 8.25, at: clock.now())
        try writer.flush()
        #expect(try reader.all().map(\.value) == [7.25, 8.25])
    }

    @Test func aMissingFileIsAnErrorAndIsNotCreated() throws {
        let dir = try TemporaryDirectory()
        let error = #expect(throws: LocalDatabaseError.self) { try LocalDatabase.openReadOnly(path: dir.databasePath) }
        #expect(error?.description == "no database at \(dir.databasePath): has `edge-agent run` run with this data directory? (use --data-dir or --config)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [])
    }

    @Test func aCorruptFileIsAnErrorAndIsNotMoved() throws {
        let dir = try TemporaryDirectory()
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: dir.databasePath))
        let before = try DirectorySnapshot(dir.path)

        let error = #expect(throws: LocalDatabaseError.self) { try LocalDatabase.openReadOnly(path: dir.databasePath) }

        #expect(error == .corrupt(path: dir.databasePath, detail: "file is not a database"))
        #expect(error?.description == "\(dir.databasePath) is damaged (file is not a database); it was left as it is: stop the daemon and run `edge-agent run` to quarantine it, or copy it elsewhere to salvage")
        #expect(try DirectorySnapshot(dir.path).files["edge.sqlite"] == before.files["edge.sqlite"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["edge.sqlite"])
    }

    @Test func aWritingOpenThatMayNotRecoverLeavesADamagedFileWhereItIs() throws {
        let dir = try TemporaryDirectory()
        let garbage = Data(repeating: 0x5A, count: 8192)
        try garbage.write(to: URL(fileURLWithPath: dir.databasePath))

        let error = #expect(throws: LocalDatabaseError.self) { try LocalDatabase.open(path: dir.databasePath, recover: false) }

        #expect(error == .corrupt(path: dir.databasePath, detail: "file is not a database"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["edge.sqlite"])
        #expect(FileManager.default.contents(atPath: dir.databasePath) == garbage)
    }

    @Test func aSQLiteFileWithoutTheReadingsSchemaIsNotMigrated() throws {
        let dir = try TemporaryDirectory()
        let other = try DatabaseQueue(path: dir.databasePath)
        try other.write { try $0.execute(sql: "CREATE TABLE unrelated (x INTEGER)") }
        try other.close()
        let before = try DirectorySnapshot(dir.path)

        let error = #expect(throws: LocalDatabaseError.self) { try LocalDatabase.openReadOnly(path: dir.databasePath) }

        #expect(error == .notAReadingsDatabase(path: dir.databasePath))
        #expect(try DirectorySnapshot(dir.path).files["edge.sqlite"] == before.files["edge.sqlite"])
        let tables = try DatabaseQueue(path: dir.databasePath).read {
            try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        }
        #expect(tables == ["unrelated"])
    }
}

@Suite struct StoreIdentityTests {
    @Test func aNewIdentityIsKeptRecordedAndSequencesGoOn() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock(unixMillis: epoch + 3_723_000) // 01:02:03
        let database = try LocalDatabase.open(path: dir.databasePath, clock: clock)
        let store = try ReadingWriter(database: database, clock: clock)
        try store.append("tank", 1, at: clock.now())
        try store.flush()
        let old = database.storeID
        #expect(database.identityResets == [])

        let new = try database.startNewStoreIdentity(reason: "sync ledger acknowledged 9 but the store issued 1")

        #expect(new != old)
        #expect(UUID(uuidString: new) != nil)
        #expect(database.storeID == new)
        let expected = ["20260101T010203Z: sync ledger acknowledged 9 but the store issued 1 (store id \(old) replaced by \(new))"]
        #expect(database.identityResets == expected)
        try store.append("tank", 2, at: clock.now())
        try store.flush()
        #expect(try store.all().map(\.sequence) == [1, 2])

        let reopened = try LocalDatabase.open(path: dir.databasePath, clock: clock)
        #expect(reopened.storeID == new)
        #expect(reopened.identityResets == expected)
        #expect(try LocalDatabase.openReadOnly(path: dir.databasePath).identityResets == expected)
    }

    @Test func onlyTheNewestResetsAreListedAndLongReasonsAreCut() throws {
        let dir = try TemporaryDirectory()
        let database = try LocalDatabase.open(path: dir.databasePath, clock: ManualDeviceClock())
        for i in 0..<(LocalDatabase.identityResetsShown + 3) { try database.startNewStoreIdentity(reason: "reset \(i)") }
        try database.startNewStoreIdentity(reason: String(repeating: "x", count: 2000))
        let resets = database.identityResets
        #expect(resets.count == LocalDatabase.identityResetsShown)
        #expect(resets.first?.hasPrefix("20260101T000000Z: reset 4 (") == true)
        #expect(resets.last?.hasPrefix("20260101T000000Z: " + String(repeating: "x", count: 500) + " (store id ") == true)
    }

    @Test func highestSequenceIssuedOutlivesDeletedRows() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        #expect(try store.queries.highestSequenceIssued() == 0)
        for i in 0..<5 { try store.append("tank", Double(i), at: clock.now()) }
        #expect(try store.queries.highestSequenceIssued() == 0)
        try store.flush()
        #expect(try store.queries.highestSequenceIssued() == 5)
        try store.database.writer.write { try $0.execute(sql: "DELETE FROM readings WHERE sequence > 2") }
        #expect(try store.queries.highestSequenceIssued() == 5)
    }
}

@Suite struct SalvageTests {
    /// 2 000 readings, then the table's first leaf overwritten with garbage.
    func damagedStore(_ dir: TemporaryDirectory) throws -> (damagedThrough: Int64, path: String) {
        let clock = ManualDeviceClock()
        let database = try LocalDatabase.open(path: dir.databasePath, clock: clock)
        let store = try ReadingWriter(database: database, clock: clock)
        for i in 1...2_000 { try store.append("tank", Double(i), at: clock.now()) }
        try store.flush()
        let (leaf, lastOnLeaf) = try database.writer.writeWithoutTransaction { db in
            _ = try db.checkpoint(.truncate)
            let leaf = try Int.fetchOne(db, sql: "SELECT pageno FROM dbstat WHERE name = 'readings' AND pagetype = 'leaf' ORDER BY path LIMIT 1")!
            let cells = try Int64.fetchOne(db, sql: "SELECT ncell FROM dbstat WHERE pageno = ?", arguments: [leaf])!
            return (leaf, cells)
        }
        try database.writer.close()
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.databasePath))
        try file.seek(toOffset: UInt64((leaf - 1) * 4096))
        try file.write(contentsOf: Data(repeating: 0xFF, count: 4096))
        try file.close()
        return (lastOnLeaf, dir.databasePath)
    }

    @Test func everyReadableReadingIsExportedAndTheDamagedRangeNamed() throws {
        let dir = try TemporaryDirectory()
        let (damagedThrough, path) = try damagedStore(dir)
        let store = ReadingQueries(database: try LocalDatabase.openReadOnly(path: path), bootID: nil)
        #expect(throws: DatabaseError.self) { try store.all() }

        var salvaged: [Reading] = []
        let report = try store.salvage { salvaged += $0 }

        #expect(report.skipped == [1...damagedThrough])
        #expect(report.readings == 2_000 - Int(damagedThrough))
        #expect(salvaged.map(\.sequence) == Array((damagedThrough + 1)...2_000))
        #expect(salvaged.map(\.value) == ((damagedThrough + 1)...2_000).map(Double.init))
    }

    @Test func anUndamagedStoreIsExportedWhole() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        for i in 1...2_500 { try store.append("tank", Double(i), at: clock.now()) }
        try store.flush()
        var batches: [Int] = []
        let report = try store.queries.salvage { batches.append($0.count) }
        #expect(report == { var r = SalvageReport(); r.readings = 2_500; return r }())
        #expect(batches == [1_000, 1_000, 500])
    }
}

@Suite struct QuarantineLogTests {
    @Test func quarantinesStayUntilAcknowledged() throws {
        let dir = try TemporaryDirectory()
        let log = QuarantineLog(path: dir.path + "/quarantine.log")
        #expect(try log.unacknowledged() == [])
        #expect(try log.acknowledge(at: ManualDeviceClock().now()) == [])
        #expect(!FileManager.default.fileExists(atPath: log.path))

        try log.recordQuarantine(movedTo: "/d/a.corrupt-1", reason: "commit: database disk image is malformed", at: ManualDeviceClock().now())
        try log.recordQuarantine(movedTo: "/d/a.corrupt-2", reason: "line\nbreak", at: ManualDeviceClock(unixMillis: epoch + 1).now())
        let both = [
            QuarantineLog.Entry(atMillis: epoch, movedTo: "/d/a.corrupt-1", reason: "commit: database disk image is malformed"),
            QuarantineLog.Entry(atMillis: epoch + 1, movedTo: "/d/a.corrupt-2", reason: "line\nbreak"),
        ]
        #expect(try log.unacknowledged() == both)
        #expect(try log.acknowledge(at: ManualDeviceClock().now()) == both)
        #expect(try log.unacknowledged() == [])

        try log.recordQuarantine(movedTo: "/d/a.corrupt-3", reason: "later", at: ManualDeviceClock().now())
        #expect(try log.unacknowledged().map(\.movedTo) == ["/d/a.corrupt-3"])
        let attributes = try FileManager.default.attributesOfItem(atPath: log.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o640)
    }

    @Test func aTornLastLineLosesOnlyItself() throws {
        let dir = try TemporaryDirectory()
        let log = QuarantineLog(path: dir.path + "/quarantine.log")
        try log.recordQuarantine(movedTo: "/d/a.corrupt-1", reason: "first", at: ManualDeviceClock().now())
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"event\":\"acknowl".utf8))
        try handle.close()
        try log.recordQuarantine(movedTo: "/d/a.corrupt-2", reason: "second", at: ManualDeviceClock().now())
        #expect(try log.unacknowledged().map(\.movedTo) == ["/d/a.corrupt-1", "/d/a.corrupt-2"])
    }
}
