import AlertEngine
import EdgeCore
import EdgeTesting
import GRDB
import Synchronization

/// A temp database file, a manual clock, and shorthand for feeding samples.
final class Harness {
    let directory: TemporaryDirectory
    let clock = ManualDeviceClock()
    let writer: DatabasePool
    let store: AlertStore
    /// ManualDeviceClock's default wall clock, 2026-01-01T00:00:00Z.
    let start: Int64 = 1_767_225_600_000

    init() throws {
        directory = try TemporaryDirectory("alerts")
        writer = try Self.open(directory.databasePath)
        store = try AlertStore(writer: writer)
    }

    /// The file as the agent opens it: WAL, and a busy timeout so two connections share it.
    static func open(_ path: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        return try DatabasePool(path: path, configuration: configuration)
    }

    var path: String { directory.databasePath }
    var now: Int64 { clock.now().unixMillis }

    func engine(_ rules: [AlertRule], outputs: [String: OutputPolicy] = [:], driver: (any AlertOutputs)? = nil) throws -> AlertEngine {
        try AlertEngine(rules: rules, store: store, clock: clock, outputs: outputs, driver: driver)
    }

    func reading(_ sensor: String, _ value: Double, unit: String = "°C", quality: SampleQuality = .ok) -> Sample {
        Sample(sensorID: sensor, value: value, unit: unit, quality: quality, time: clock.now())
    }

    /// Advances the clock by `seconds`, then evaluates one sample.
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
