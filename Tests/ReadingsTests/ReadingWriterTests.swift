import EdgeCore
import EdgeTesting
import Foundation
import GRDB
import Synchronization
import Testing
@testable import Readings

@Suite struct ReadingWriterTests {
    @Test func appendIsBufferedUntilFlushThenCommittedInOrder() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        try store.append("tank", 25.25, at: clock.now())
        clock.advance(by: .seconds(1))
        try store.append("room.humidity", 61.5, unit: "%RH", quality: .filtered, at: clock.now())
        #expect(try store.all() == [])
        #expect(store.bufferedCount == 2)

        try store.flush()

        #expect(store.bufferedCount == 0)
        #expect(try store.all() == [
            Reading(sequence: 1, sensorID: "tank", timestampMillis: epoch, value: 25.25, unit: "°C", quality: .ok),
            Reading(sequence: 2, sensorID: "room.humidity", timestampMillis: epoch + 1000, value: 61.5, unit: "%RH", quality: .filtered),
        ])
    }

    @Test func aFullBufferCommitsWithoutWaitingForTheTimer() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(
            database: try LocalDatabase.open(path: dir.databasePath), clock: clock,
            commit: GroupCommitPolicy(maxRows: 4))
        for i in 1...3 { try store.append("tank", Double(i), at: clock.now()) }
        #expect(try store.all().count == 0)
        try store.append("tank", 4, at: clock.now())
        #expect(try store.all().map(\.value) == [1, 2, 3, 4])
        #expect(store.bufferedCount == 0)
    }

    @Test func groupCommitIsOneTransactionPerFlush() throws {
        let dir = try TemporaryDirectory()
        let database = try LocalDatabase.open(path: dir.databasePath)
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: database, clock: clock)
        let counter = CommitCounter()
        database.writer.add(transactionObserver: counter, extent: .databaseLifetime)
        for i in 0..<300 { try store.append("tank", Double(i), at: clock.now()) }
        try store.flush()
        for i in 0..<300 { try store.append("ph", Double(i), unit: "pH", at: clock.now()) }
        try store.flush()
        #expect(counter.commits.withLock { $0 } == 2)
        #expect(try store.all().count == 600)
    }

    @Test func sequencesAreNeverReusedAfterEveryRowIsDeleted() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        for i in 0..<5 { try store.append("tank", Double(i), at: clock.now()) }
        try store.flush()
        let report = try store.enforceRetention(RetentionPolicy(byteBudget: 1), syncedThrough: 5)
        #expect(report.droppedSynced == 5)
        #expect(try store.all() == [])

        let reopened = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        try reopened.append("tank", 9, at: clock.now())
        try reopened.flush()
        #expect(try reopened.all().map(\.sequence) == [6])
    }

    @Test func runCommitsOnItsTimer() async throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        try store.append("tank", 25, at: clock.now())
        try store.append("tank", 26, at: clock.now())
        let start = clock.now().bootNanos
        let task = Task { try await store.run() }
        var committed: [Reading] = []
        for _ in 0..<10_000 where committed.isEmpty {
            committed = try store.all()
            await Task.yield()
        }
        task.cancel()
        try await task.value
        #expect(committed.map(\.value) == [25, 26])
        // Manual sleeps advance the clock: the first commit came after a whole interval.
        #expect(clock.now().bootNanos - start >= 250_000_000)
    }

    /// The main file changes only when a checkpoint copies the WAL into it.
    @Test func checkpointsFollowWritesEveryIntervalAndNeverWhenIdle() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let database = try LocalDatabase.open(path: dir.databasePath)
        let store = try ReadingWriter(database: database, clock: clock)
        func mainFileSize() throws -> Int64 {
            try FileManager.default.attributesOfItem(atPath: dir.databasePath)[.size] as! Int64
        }
        try store.checkpoint()
        let before = try mainFileSize()
        for i in 0..<2000 { try store.append("tank", Double(i), at: clock.now()) }
        try store.flush()
        #expect(try mainFileSize() == before)

        clock.advance(by: .milliseconds(4999))
        #expect(!store.checkpointDue())
        clock.advance(by: .milliseconds(1))
        #expect(store.checkpointDue())
        try store.checkpoint()
        #expect(try mainFileSize() > before)
        #expect(!store.checkpointDue())

        clock.advance(by: .seconds(60))
        #expect(!store.checkpointDue())
    }

    @Test func cancellingRunCommitsTheBuffer() async throws {
        let dir = try TemporaryDirectory()
        let clock = StalledClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        let task = Task { try await store.run() }
        for i in 1...3 { try store.append("tank", Double(i), at: clock.now()) }
        #expect(try store.all() == [])
        task.cancel()
        try await task.value
        #expect(try store.all().map(\.sequence) == [1, 2, 3])
    }

    /// What a crash (kill -9) can lose: a second connection, opened while the first still
    /// holds a buffer it never committed, finds every flushed reading and nothing else.
    @Test func anotherConnectionSeesEveryFlushedReadingAndNoBufferedOne() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let writer = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        for i in 1...10 { try writer.append("tank", Double(i), at: clock.now()) }
        try writer.flush()
        for i in 11...15 { try writer.append("tank", Double(i), at: clock.now()) }

        let other = try LocalDatabase.open(path: dir.databasePath)
        let reader = try ReadingWriter(database: other, clock: clock)
        #expect(try reader.all().map(\.sequence) == Array(1...10))
        #expect(other.storeID == writer.database.storeID)

        try writer.flush()
        #expect(try reader.all().map(\.sequence) == Array(1...15))
    }

    @Test func aReaderReadsWhileAWriteTransactionIsOpen() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let writer = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        try writer.append("tank", 1, at: clock.now())
        try writer.flush()
        let reader = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        let seen = try writer.database.writer.write { db in
            try db.execute(sql: "DELETE FROM readings")
            return try reader.all().map(\.sequence)
        }
        #expect(seen == [1])
        #expect(try reader.all() == [])
    }

    @Test func readingsStayBufferedWhileCommitsFailUpToACap() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let database = try LocalDatabase.open(path: dir.databasePath)
        let store = try ReadingWriter(database: database, clock: clock, commit: GroupCommitPolicy(maxRows: 2))
        try database.writer.close()
        for i in 0..<32 { try store.append("tank", Double(i), at: clock.now()) }
        #expect(throws: ReadingStoreError.bufferFull(sensorID: "tank", buffered: 32)) {
            try store.append("tank", 32, at: clock.now())
        }
        #expect(throws: DatabaseError.self) { try store.flush() }
        #expect(store.bufferedCount == 32)
    }

    @Test func badInputIsRejectedWithAClearErrorAndNothingStored() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        #expect(throws: ReadingStoreError.nonFiniteValue(sensorID: "tank")) {
            try store.append("tank", .nan, at: clock.now())
        }
        #expect(throws: ReadingStoreError.invalidSensorID("")) { try store.append("", 1, at: clock.now()) }
        let longID = String(repeating: "x", count: 129)
        #expect(throws: ReadingStoreError.invalidSensorID(longID)) { try store.append(longID, 1, at: clock.now()) }
        let longUnit = String(repeating: "u", count: 33)
        #expect(throws: ReadingStoreError.invalidUnit(sensorID: "tank", unit: longUnit)) {
            try store.append("tank", 1, unit: longUnit, at: clock.now())
        }
        #expect(throws: ReadingStoreError.invalidLimit(0)) { try store.queries.readings(afterSequence: 0, limit: 0) }
        try store.flush()
        #expect(try store.all() == [])
        #expect(ReadingStoreError.nonFiniteValue(sensorID: "tank").description
            == "sensor tank produced a non-finite value; a failed read must be reported as an error, not stored")
    }

    @Test func readingsAfterASequenceComeInBatchesWithTheBacklog() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        for i in 1...7 {
            try store.append(i.isMultiple(of: 2) ? "ph" : "tank", Double(i), at: clock.now())
            clock.advance(by: .seconds(10))
        }
        try store.flush()
        #expect(try store.queries.readings(afterSequence: 2, limit: 3).map(\.sequence) == [3, 4, 5])
        #expect(try store.queries.readings(afterSequence: 5, limit: 3).map(\.sequence) == [6, 7])
        let backlog = try store.queries.backlog(afterSequence: 4)
        #expect(backlog.count == 3)
        #expect(backlog.oldestMillis == epoch + 40_000)
        let empty = try store.queries.backlog(afterSequence: 7)
        #expect(empty.count == 0)
        #expect(empty.oldestMillis == nil)
    }

    @Test func queryFiltersBySensorAndWindowInBothOrders() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        for i in 0..<6 {
            try store.append("tank", Double(i), at: clock.now())
            try store.append("ph", 8 + Double(i) / 10, unit: "pH", at: clock.now())
            clock.advance(by: .seconds(60))
        }
        try store.flush()
        let window = try store.queries.query(sensorID: "tank", sinceMillis: epoch + 60_000, untilMillis: epoch + 240_000, limit: nil, newestFirst: false)
        #expect(window.map(\.value) == [1, 2, 3, 4])
        #expect(window.map(\.sequence) == [3, 5, 7, 9])
        let newest = try store.queries.query(sensorID: nil, sinceMillis: nil, untilMillis: nil, limit: 3, newestFirst: true)
        #expect(newest.map(\.sequence) == [12, 11, 10])
        #expect(try store.queries.query(sensorID: "absent", sinceMillis: nil, untilMillis: nil, limit: nil, newestFirst: false) == [])
    }

    @Test func latestIsTheNewestInsertedReadingOfEachSensor() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        try store.append("tank", 25, at: clock.now())
        try store.append("ph", 8.1, unit: "pH", at: clock.now())
        try store.flush()
        // The clock steps back (an unsynchronised boot); the newer reading still wins.
        clock.setWallClock(unixMillis: epoch - 86_400_000, synchronized: false)
        try store.append("tank", 26, at: clock.now())
        try store.flush()
        #expect(try store.queries.latest() == [
            Reading(sequence: 2, sensorID: "ph", timestampMillis: epoch, value: 8.1, unit: "pH", quality: .ok),
            Reading(sequence: 3, sensorID: "tank", timestampMillis: epoch - 86_400_000, value: 26, unit: "°C", quality: .ok, clockSynchronized: false),
        ])
    }

    @Test func statsSummariseEachSensorWithAlignedBuckets() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        // tank: 10, 20, 30, 40 at 0, 10, 20, 30 s; ph: 8.0 at 5 s and 8.4 at 35 s.
        for i in 0..<4 {
            try store.append("tank", Double(10 * (i + 1)), at: clock.now())
            clock.advance(by: .seconds(5))
            if i == 0 || i == 3 { try store.append("ph", i == 0 ? 8.0 : 8.4, unit: "pH", at: clock.now()) }
            clock.advance(by: .seconds(5))
        }
        try store.flush()
        let stats = try store.queries.stats(sinceMillis: epoch, untilMillis: epoch + 39_999, buckets: 4)
        #expect(stats.count == 2)
        let ph = stats[0], tank = stats[1]
        #expect(ph.sensorID == "ph")
        #expect(ph.count == 2)
        #expect(ph.min == 8.0)
        #expect(ph.max == 8.4)
        #expect(abs(ph.mean - 8.2) < 1e-12)
        #expect(ph.last.value == 8.4)
        #expect(ph.bucketMeans == [8.0, nil, nil, 8.4])
        #expect(tank.sensorID == "tank")
        #expect(tank.count == 4)
        #expect(tank.min == 10)
        #expect(tank.max == 40)
        #expect(tank.mean == 25)
        #expect(tank.last.sequence == 5)
        #expect(tank.bucketMeans == [10, 20, 30, 40])
        #expect(tank.windowStartMillis == epoch)
        #expect(tank.windowEndMillis == epoch + 39_999)

        let open = try store.queries.stats(sinceMillis: epoch + 20_000, untilMillis: nil, buckets: 2)
        #expect(open.map(\.count) == [1, 2])
        #expect(open[1].bucketMeans == [30, 40])
        #expect(open[1].windowEndMillis == epoch + 35_000)
        #expect(try store.queries.stats(sinceMillis: epoch + 100_000, untilMillis: nil) == [])
    }
}

/// Counts commits on the writer connection.
final class CommitCounter: TransactionObserver, @unchecked Sendable {
    let commits = Mutex(0)
    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { true }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) { commits.withLock { $0 += 1 } }
    func databaseDidRollback(_ db: Database) {}
}
