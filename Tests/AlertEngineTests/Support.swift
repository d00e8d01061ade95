import AlertEngine
import EdgeCore
import EdgeTesting
import Foundation
import Readings
import Synchronization
import XCTest

/// A temp database file, a manual clock, and shorthand for feeding readings.
final class Harness {
    let directory: String
    let clock = ManualDeviceClock()
    let database: LocalDatabase
    let store: AlertStore
    /// ManualDeviceClock's default wall clock, 2026-01-01T00:00:00Z.
    let start: Int64 = 1_767_225_600_000

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        database = try LocalDatabase.open(path: directory + "/edge.sqlite", clock: clock)
        store = try AlertStore(writer: database.writer)
    }

    var path: String { directory + "/edge.sqlite" }
    var now: Int64 { clock.now().unixMillis }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func engine(_ rules: [AlertRule], outputs: [String: OutputPolicy] = [:], driver: (any AlertOutputs)? = nil) throws -> AlertEngine {
        try AlertEngine(rules: rules, store: store, clock: clock, outputs: outputs, driver: driver)
    }

    func reading(_ sensor: String, _ value: Double, unit: String = "°C", quality: SampleQuality = .ok) -> Reading {
        Reading(sequence: 0, sensorID: sensor, timestampMillis: now, value: value, unit: unit, quality: quality)
    }

    /// Advances the clock by `seconds`, then evaluates one reading.
    func feed(_ engine: AlertEngine, _ sensor: String, _ value: Double, after seconds: Int64 = 0, unit: String = "°C") throws -> [AlertEvent] {
        clock.advance(by: .seconds(seconds))
        return try engine.evaluate(reading(sensor, value, unit: unit))
    }

    func tick(_ engine: AlertEngine, after seconds: Int64) throws -> [AlertEvent] {
        clock.advance(by: .seconds(seconds))
        return try engine.tick()
    }
}

/// Records every switch; fails for the outputs in `failing`.
final class RecordingOutputs: AlertOutputs {
    private let state = Mutex<(calls: [String], failing: Set<String>)>(([], []))
    struct Broken: Error, CustomStringConvertible { var description: String { "gpio line busy" } }

    var calls: [String] { state.withLock { $0.calls } }
    func fail(_ output: String, _ failing: Bool) {
        state.withLock { if failing { $0.failing.insert(output) } else { $0.failing.remove(output) } }
    }

    func set(_ output: String, on: Bool) throws {
        try state.withLock {
            if $0.failing.contains(output) { throw Broken() }
            $0.calls.append("\(output)=\(on ? "on" : "off")")
        }
    }
}

func kinds(_ events: [AlertEvent]) -> [AlertEvent.Kind] { events.map(\.kind) }
