import EdgeCore
import EdgeTesting
import Foundation
import HAL
import Logging
import Profiles
import Readings
import Testing
@testable import edge_agent

/// Measured quality and clock state are two facts: a clamped value read before the clock
/// is synchronised is stored as suspect, re-stamped later, and fires no rule. Through the
/// real session (simulated board, profile filters, alert engine, storage) in-process.
@Suite struct ClockQualityTests {
    static let profile = """
        name: clock-quality
        buses:
          - { id: w1, kind: w1, simulated: true }
        sensors:
          - id: tank_temp
            driver: ds18b20
            bus: w1
            slave: 28-0000075a1b2c
            interval: 1s
            simulation: { temperature: { constant: 40 } }
            filters:
              - clamp: { min_value: 0, max_value: 35 }
        alerts:
          - { id: hot, sensor: tank_temp, when: "> 30.0", severity: critical }
        """

    @Test func aClampedReadingBeforeTheClockIsSynchronisedStaysSuspectAndFiresNothing() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("clock-quality-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = AgentConfig.defaults()
        config.dataDirectory = directory
        // A wall clock NTP has not set: 1970 plus a minute, 60 s after boot.
        let clock = ManualDeviceClock(unixMillis: 60_000, bootNanos: 60_000_000_000, synchronized: false)
        let storage = StorageSupervisor(paths: DataPaths(config), clock: clock, logger: Logger(label: "test"))
        storage.start()
        let stores = try #require(storage.stores)
        let session = try Session(profile: try DeviceProfile.parse(yaml: Self.profile, file: "P"), storage: storage,
                                  clock: clock, logger: Logger(label: "test"))
        let sensor = try #require(session.board.sensors.first)
        let (alertStore, _) = try storage.alertStore()

        for _ in 0..<3 {
            let takenAt = clock.now()
            session.pipeline.handle(PollResult(sensorID: sensor.id, takenAt: takenAt, result: .success(try await sensor.sensor.read())))
            clock.advance(by: .seconds(1))
        }
        try stores.readings.flush()
        let stored = try stores.readings.queries.readings(afterSequence: 0, limit: 10)
        #expect(stored.map(\.value) == [35, 35, 35])
        #expect(stored.map(\.quality) == [.suspect, .suspect, .suspect])
        #expect(stored.map(\.clockSynchronized) == [false, false, false])
        #expect(stored.map(\.timestampMillis) == [60_000, 61_000, 62_000])
        #expect(try alertStore.events(afterSequence: 0, limit: 10) == [])
        #expect(try alertStore.active() == [])

        // NTP sets the clock: 2026-01-01T00:00:00Z, at boot + 63 s.
        clock.setWallClock(unixMillis: 1_767_225_600_000, synchronized: true)
        #expect(try stores.readings.synchronizeClock() == 3)
        let restamped = try stores.readings.queries.readings(afterSequence: 0, limit: 10)
        #expect(restamped.map(\.quality) == [.suspect, .suspect, .suspect])
        #expect(restamped.map(\.clockSynchronized) == [true, true, true])
        #expect(restamped.map(\.timestampMillis) == [1_767_225_597_000, 1_767_225_598_000, 1_767_225_599_000])
        #expect(try alertStore.events(afterSequence: 0, limit: 10) == [])
    }
}
