import EdgeCore
import EdgeTesting
import Foundation
import Testing
@testable import Readings

@Suite struct ClockCorrectionTests {
    /// A Pi without a real-time clock boots at the fake-hwclock's 2020 time, unsynchronised.
    let bootWall: Int64 = 1_600_000_000_000

    @Test func unsyncedReadingsAreFlaggedThenRestampedFromTheMonotonicClock() throws {
        let dir = try TemporaryDirectory()
        let clock = ManualDeviceClock(unixMillis: bootWall, bootNanos: 10_000_000_000, synchronized: false, bootID: "boot-2")
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        try store.append("tank", 25, quality: .filtered, at: clock.now())      // boot+10 s
        clock.advance(by: .milliseconds(1500))
        try store.append("ph", 8.2, unit: "pH", at: clock.now())               // boot+11.5 s
        clock.advance(by: .nanoseconds(700_000))
        try store.append("tank", 25.1, quality: .suspect, at: clock.now())    // boot+11.5007 s
        try store.flush()
        #expect(try store.all().map(\.quality) == [.filtered, .ok, .suspect])
        #expect(try store.all().map(\.clockSynchronized) == [false, false, false])
        #expect(try store.all().map(\.timestampMillis) == [bootWall, bootWall + 1500, bootWall + 1500])

        #expect(try store.queries.firstCorrectableSequence() == 1)

        clock.advance(by: .nanoseconds(2_249_300_000))                         // boot+13.75 s
        clock.setWallClock(unixMillis: epoch, synchronized: true)
        #expect(try store.synchronizeClock() == 3)
        #expect(try store.queries.firstCorrectableSequence() == nil)

        #expect(try store.all() == [
            Reading(sequence: 1, sensorID: "tank", timestampMillis: epoch - 3750, value: 25, unit: "°C", quality: .filtered),
            Reading(sequence: 2, sensorID: "ph", timestampMillis: epoch - 2250, value: 8.2, unit: "pH", quality: .ok),
            Reading(sequence: 3, sensorID: "tank", timestampMillis: epoch - 2249, value: 25.1, unit: "°C", quality: .suspect),
        ])
        #expect(try store.synchronizeClock() == 0)
    }

    @Test func readingsOfAnEarlierBootStayFlagged() throws {
        let dir = try TemporaryDirectory()
        let earlier = ManualDeviceClock(unixMillis: bootWall, bootNanos: 5_000_000_000, synchronized: false, bootID: "boot-1")
        let before = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: earlier)
        try before.append("tank", 24, at: earlier.now())
        try before.flush()

        let clock = ManualDeviceClock(unixMillis: bootWall, bootNanos: 6_000_000_000, synchronized: false, bootID: "boot-2")
        let store = try ReadingWriter(database: try LocalDatabase.open(path: dir.databasePath), clock: clock)
        try store.append("tank", 25, at: clock.now())
        clock.advance(by: .seconds(1))
        clock.setWallClock(unixMillis: epoch, synchronized: true)
        try store.append("tank", 26, at: clock.now())

        try store.flush()
        #expect(try store.queries.firstCorrectableSequence() == 2)
        #expect(try store.synchronizeClock() == 1)
        #expect(try store.queries.firstCorrectableSequence() == nil)
        #expect(try store.all() == [
            Reading(sequence: 1, sensorID: "tank", timestampMillis: bootWall, value: 24, unit: "°C", quality: .ok, clockSynchronized: false),
            Reading(sequence: 2, sensorID: "tank", timestampMillis: epoch - 1000, value: 25, unit: "°C", quality: .ok),
            Reading(sequence: 3, sensorID: "tank", timestampMillis: epoch, value: 26, unit: "°C", quality: .ok),
        ])
    }
}

@Suite struct ClockWatchTests {
    @Test func reportsSynchronisationAndStepsBeyondTheThreshold() {
        let clock = ManualDeviceClock(unixMillis: 1_600_000_000_000, synchronized: false)
        var watch = ClockWatch(threshold: .seconds(2))
        #expect(watch.observe(clock.now()) == [])

        clock.advance(by: .seconds(30))
        #expect(watch.observe(clock.now()) == [])

        // NTP slews by 1.5 s: not a step.
        clock.setWallClock(unixMillis: clock.now().unixMillis + 1500, synchronized: false)
        #expect(watch.observe(clock.now()) == [])

        // NTP's first fix steps the clock forward and sets the kernel's flag.
        let before = clock.now().unixMillis
        clock.setWallClock(unixMillis: epoch, synchronized: true)
        let events = watch.observe(clock.now())
        #expect(events == [.jumped(millis: epoch - before), .synchronized])
        #expect(ClockWatch.shouldSynchronize(events))

        // Someone sets the clock back an hour.
        clock.setWallClock(unixMillis: epoch - 3_600_000, synchronized: true)
        let back = watch.observe(clock.now())
        #expect(back == [.jumped(millis: -3_600_000)])
        #expect(!ClockWatch.shouldSynchronize(back))
    }

    @Test func aClockAlreadySynchronisedAtStartIsReportedOnce() {
        let clock = ManualDeviceClock()
        var watch = ClockWatch()
        #expect(watch.observe(clock.now()) == [.synchronized])
        clock.advance(by: .seconds(1))
        #expect(watch.observe(clock.now()) == [])
    }
}
