import EdgeCore
import EdgeTesting
import Foundation
import GRDB
import Testing
@testable import Readings

@Suite struct RetentionTests {
    @Test func ageIsJudgedOnlyBySynchronisedTimestamps() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        for minute in 0..<5 { // sequences 1...5, minutes 0...4
            try store.append("tank", Double(minute), at: DeviceTime(unixMillis: epoch + Int64(minute) * 60_000, bootNanos: 1, synchronized: true))
        }
        for i in 0..<3 { // sequences 6...8: a stamp from 2001, looking ancient
            try store.append("tank", 90 + Double(i), at: DeviceTime(unixMillis: 1_000_000_000_000, bootNanos: 1, synchronized: false))
        }
        for minute in 5..<7 { // sequences 9, 10
            try store.append("ph", 8, unit: "pH", at: DeviceTime(unixMillis: epoch + Int64(minute) * 60_000, bootNanos: 1, synchronized: true))
        }
        try store.flush()
        let hour = RetentionPolicy(maxAge: .seconds(3600))

        // An unsynchronised clock judges nothing.
        clock.setWallClock(unixMillis: epoch + 200 * 60_000, synchronized: false)
        #expect(try store.enforceRetention(hour, syncedThrough: .max).droppedByAge == 0)

        // Cutoff at minute 2.5: the three oldest synchronised readings are old, not the 2001
        // stamps; of those, only what the server acknowledged goes.
        clock.setWallClock(unixMillis: epoch + 62 * 60_000 + 30_000, synchronized: true)
        #expect(try store.enforceRetention(hour, syncedThrough: 2).droppedByAge == 2)
        #expect(try store.enforceRetention(hour, syncedThrough: .max).droppedByAge == 1)
        #expect(try store.all().map(\.sequence) == [4, 5, 6, 7, 8, 9, 10])

        // Cutoff at minute 20: sequence 10 is old, so everything inserted before it is older still.
        clock.setWallClock(unixMillis: epoch + 80 * 60_000, synchronized: true)
        #expect(try store.enforceRetention(hour, syncedThrough: .max).droppedByAge == 7)
        #expect(try store.all() == [])
        #expect(try store.queries.dropCounts() == [
            DropCount(sensorID: "ph", reason: .age, count: 2, firstMillis: epoch + 300_000, lastMillis: epoch + 360_000),
            DropCount(sensorID: "tank", reason: .age, count: 8, firstMillis: 1_000_000_000_000, lastMillis: epoch + 240_000),
        ])
    }

    /// 30 readings alternating tank (odd sequences) and ph (even), one second apart.
    private func thirtyReadings(_ store: ReadingWriter) throws {
        for sequence in 1...30 {
            let time = DeviceTime(unixMillis: epoch + Int64(sequence) * 1000, bootNanos: 1, synchronized: true)
            if sequence.isMultiple(of: 2) {
                try store.append("ph", 8, unit: "pH", at: time)
            } else {
                try store.append("tank", 25, at: time)
            }
        }
        try store.flush()
    }

    private let allThirtyDropped = [
        DropCount(sensorID: "ph", reason: .budgetSynced, count: 6, firstMillis: epoch + 2000, lastMillis: epoch + 12_000),
        DropCount(sensorID: "ph", reason: .budgetUnsynced, count: 9, firstMillis: epoch + 14_000, lastMillis: epoch + 30_000),
        DropCount(sensorID: "tank", reason: .budgetSynced, count: 6, firstMillis: epoch + 1000, lastMillis: epoch + 11_000),
        DropCount(sensorID: "tank", reason: .budgetUnsynced, count: 9, firstMillis: epoch + 13_000, lastMillis: epoch + 29_000),
    ]

    @Test func anUnreachableBudgetDropsSyncedThenUnsyncedAndCountsEveryRow() throws {
        let dir = try TemporaryDirectory()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: ManualDeviceClock())
        try thirtyReadings(store)

        let report = try store.enforceRetention(RetentionPolicy(byteBudget: 1), syncedThrough: 12)

        #expect(report.droppedSynced == 12)
        #expect(report.droppedUnsynced == 18)
        #expect(report.droppedByAge == 0)
        #expect(!report.budgetMet)
        #expect(try store.queries.dropCounts() == allThirtyDropped)
        #expect(report.bytesAfter < report.bytesBefore)
        #expect(report.bytesAfter == store.database.bytesOnDisk())
        // Freed pages went back to the filesystem and the WAL was emptied.
        let (freelist, wal) = try store.database.writer.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA freelist_count"), FileManager.default.contents(atPath: dir.databasePath + "-wal")?.count)
        }
        #expect(freelist == 0)
        #expect(wal == 0)
    }

    /// Sync off: nothing was synced, so nothing is counted as synced (the daemon used to pass
    /// Int64.max and every drop read "budget-synced").
    @Test func withSyncOffBudgetDropsAreLabelledSyncOffNotSynced() throws {
        let dir = try TemporaryDirectory()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: ManualDeviceClock())
        try thirtyReadings(store)

        let report = try store.enforceRetention(RetentionPolicy(byteBudget: 1), syncedThrough: nil)

        #expect(report.droppedSynced == 0)
        #expect(report.droppedUnsynced == 0)
        #expect(report.droppedSyncOff == 30)
        #expect(try store.queries.dropCounts() == [
            DropCount(sensorID: "ph", reason: .budgetSyncOff, count: 15, firstMillis: epoch + 2000, lastMillis: epoch + 30_000),
            DropCount(sensorID: "tank", reason: .budgetSyncOff, count: 15, firstMillis: epoch + 1000, lastMillis: epoch + 29_000),
        ])
        #expect(DropReason.budgetSyncOff.rawValue == "budget-sync-off")
    }

    @Test func aBudgetDropsTheOldestSyncedPrefixAndEndsWithinIt() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        func fill(_ sequences: ClosedRange<Int>) throws {
            for sequence in sequences {
                let time = DeviceTime(unixMillis: epoch + Int64(sequence) * 1000, bootNanos: 1, synchronized: true)
                try store.append(sequence.isMultiple(of: 2) ? "ph" : "tank", Double(sequence), at: time)
            }
            try store.flush()
        }
        try fill(1...2000)
        let budget = try store.enforceRetention(RetentionPolicy(byteBudget: .max), syncedThrough: 0).bytesAfter
        try fill(2001...4000)

        let report = try store.enforceRetention(RetentionPolicy(byteBudget: budget), syncedThrough: 3000)

        let dropped = report.droppedSynced
        #expect(report.budgetMet)
        #expect(report.droppedUnsynced == 0)
        #expect(dropped >= 1000 && dropped < 3000)
        #expect(report.bytesAfter <= budget)
        #expect(store.database.bytesOnDisk() == report.bytesAfter)
        #expect(try store.all().map(\.sequence) == Array(Int64(dropped + 1)...4000))
        let counts = try store.queries.dropCounts()
        #expect(counts.map(\.reason) == [.budgetSynced, .budgetSynced])
        #expect(counts.map(\.count).reduce(0, +) == Int64(dropped))
        let lastTank = dropped.isMultiple(of: 2) ? dropped - 1 : dropped
        let lastPH = dropped.isMultiple(of: 2) ? dropped : dropped - 1
        #expect(counts[0] == DropCount(sensorID: "ph", reason: .budgetSynced, count: Int64(dropped / 2), firstMillis: epoch + 2000, lastMillis: epoch + Int64(lastPH) * 1000))
        #expect(counts[1] == DropCount(sensorID: "tank", reason: .budgetSynced, count: Int64(dropped - dropped / 2), firstMillis: epoch + 1000, lastMillis: epoch + Int64(lastTank) * 1000))
    }

    @Test func theFreeSpaceFloorDropsLikeABudget() throws {
        let dir = try TemporaryDirectory()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: ManualDeviceClock())
        try thirtyReadings(store)

        let roomy = try store.enforceRetention(RetentionPolicy(freeSpaceFloor: 0), syncedThrough: 12)
        #expect(roomy.droppedSynced + roomy.droppedUnsynced == 0)
        #expect(try store.all().count == 30)

        let full = try store.enforceRetention(RetentionPolicy(freeSpaceFloor: .max), syncedThrough: 12)
        #expect(full.droppedSynced == 12)
        #expect(full.droppedUnsynced == 18)
        #expect(!full.budgetMet)
        #expect(try store.queries.dropCounts() == allThirtyDropped)
    }

    @Test func noPolicyDropsNothing() throws {
        let dir = try TemporaryDirectory()
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: ManualDeviceClock())
        try thirtyReadings(store)
        let report = try store.enforceRetention(RetentionPolicy(), syncedThrough: 30)
        #expect(report.droppedByAge + report.droppedSynced + report.droppedUnsynced == 0)
        #expect(report.budgetMet)
        #expect(try store.queries.dropCounts() == [])
    }
}
