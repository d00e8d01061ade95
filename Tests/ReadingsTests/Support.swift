import EdgeCore
import EdgeTesting
import Foundation
@testable import Readings

/// 2026-01-01T00:00:00Z, ManualDeviceClock's default wall clock.
let epoch: Int64 = 1_767_225_600_000

/// A clock whose sleep never returns until cancelled: `run()` then commits only on cancellation.
struct StalledClock: DeviceClock {
    let base = ManualDeviceClock()
    var bootID: String { base.bootID }
    func now() -> DeviceTime { base.now() }
    func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: .seconds(3600))
    }
}

extension ReadingQueries {
    /// Every committed reading, ascending.
    func all() throws -> [Reading] { try readings(afterSequence: 0, limit: ReadingQueries.maxLimit) }
}

extension ReadingWriter {
    func all() throws -> [Reading] { try queries.all() }

    func append(_ sensorID: String, _ value: Double, unit: String = "°C", quality: SampleQuality = .ok, at time: DeviceTime) throws {
        try append(Sample(sensorID: sensorID, value: value, unit: unit, quality: quality, time: time))
    }
}
