import AlertEngine
import EdgeCore
import Foundation
import Readings

/// Alert latency: from a reading's arrival to its alert event committed, in the agent's
/// order (`ReadingWriter.append`, then `AlertEngine.evaluate` on the same `LocalDatabase`;
/// `evaluate` returns after the event's transaction committed). The store's group-commit
/// timer runs meanwhile and nine other sensors keep arriving, so an event can wait behind a
/// readings commit as it would in the daemon.
struct AlertBenchmark {
    let crossings: Int
    let runs: Int

    static let rule = AlertRule(
        id: "tank-hot", sensorID: "tank", condition: .threshold(op: .greater, value: 28, clear: 27.5),
        severity: .critical, description: "tank {value} {unit}",
        // Flapping detection would (rightly) stop the events this benchmark times.
        flapping: AlertRule.FlapPolicy(changes: 1000, window: .milliseconds(1)))

    func figures() throws -> [Figure] {
        var p50: [Double] = []
        var p99: [Double] = []
        for _ in 0..<runs {
            let latencies = try measureRun().sorted()
            p50.append(Self.percentile(latencies, 0.50))
            p99.append(Self.percentile(latencies, 0.99))
        }
        return [
            Figure(name: "alert latency p50 (append → event committed)", unit: "ms", samples: p50),
            Figure(name: "alert latency p99 (append → event committed)", unit: "ms", samples: p99, goals: [.atMost(5)]),
        ]
    }

    /// Milliseconds per threshold crossing, alternately firing and resolving.
    func measureRun() throws -> [Double] {
        let scratch = try Scratch("alerts")
        let clock = SystemDeviceClock()
        let database = try LocalDatabase.open(path: scratch.file("edge.sqlite"))
        let store = try ReadingWriter(database: database, clock: clock)
        let engine = try AlertEngine(rules: [Self.rule], store: try AlertStore(writer: database.writer), clock: clock)
        let timer = Task { try await store.run() }
        defer { timer.cancel() }
        let others = (1...9).map { "sensor\($0)" }
        var latencies: [Double] = []
        latencies.reserveCapacity(crossings)
        for crossing in 0..<crossings {
            for id in others {
                try store.append(Sample(sensorID: id, value: 25, unit: "°C", quality: .ok, time: clock.now()))
            }
            let value = crossing.isMultiple(of: 2) ? 29.0 : 27.0
            var events: [AlertEvent] = []
            let elapsed = try seconds {
                let time = clock.now()
                let sample = Sample(sensorID: "tank", value: value, unit: "°C", quality: .ok, time: time)
                try store.append(sample)
                events = try engine.evaluate(sample)
            }
            let expected: AlertEvent.Kind = crossing.isMultiple(of: 2) ? .fired : .resolved
            guard events.contains(where: { $0.kind == expected }) else {
                throw BenchError("crossing \(crossing) to \(value) produced \(events.map(\.kind)), expected \(expected)")
            }
            latencies.append(elapsed * 1000)
            // Readings arrive over time, not in one burst: the timer's commits interleave.
            Thread.sleep(forTimeInterval: 0.001)
        }
        return latencies
    }

    /// Nearest-rank percentile of sorted values.
    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
