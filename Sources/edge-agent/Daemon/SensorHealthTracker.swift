import EdgeCore
import Synchronization
import Wire

/// What the daemon knows about each sensor between polls: when it last gave a value, how
/// often and how it failed. Feeds `edge-agent sensors`, `status` and the health report.
final class SensorHealthTracker: Sendable {
    private struct Entry {
        var interval: Duration
        var lastSuccess: DeviceTime?
        var readsOK = 0
        var errorCount = 0
        var consecutiveFailures = 0
        var errorsByKind: [String: Int] = [:]
        var lastError: String?
    }

    private let state: Mutex<[String: Entry]>
    private let order: [String]

    /// `sensors`: sensor id and poll interval, in profile order.
    init(sensors: [(id: String, interval: Duration)]) {
        var entries: [String: Entry] = [:]
        for sensor in sensors { entries[sensor.id] = Entry(interval: sensor.interval) }
        state = Mutex(entries)
        order = sensors.map(\.id)
    }

    func recordSuccess(_ sensorID: String, at time: DeviceTime) {
        state.withLock {
            $0[sensorID]?.lastSuccess = time
            $0[sensorID]?.readsOK += 1
            $0[sensorID]?.consecutiveFailures = 0
        }
    }

    func recordFailure(_ sensorID: String, kind: String, message: String) {
        state.withLock {
            $0[sensorID]?.errorCount += 1
            $0[sensorID]?.consecutiveFailures += 1
            $0[sensorID]?.errorsByKind[kind, default: 0] += 1
            $0[sensorID]?.lastError = message
        }
    }

    /// Successful polls per sensor since the agent started (the metrics file's `sensor_reads_total`).
    func readsOK() -> [String: Int] {
        state.withLock { $0.mapValues(\.readsOK) }
    }

    /// A sensor is failing while its latest poll failed; stale when it has not produced a
    /// value for three intervals (or never, after three intervals of running).
    func snapshot(now: DeviceTime, startedAt: DeviceTime) -> [SensorHealth] {
        let entries = state.withLock { $0 }
        return order.compactMap { id in
            guard let entry = entries[id] else { return nil }
            let age = entry.lastSuccess.map { Double(now.bootNanos &- $0.bootNanos) / 1e9 }
            let staleAfter = entry.interval.inSeconds * 3
            let state: SensorHealth.State
            if entry.consecutiveFailures > 0 {
                state = .failing
            } else if let age {
                state = age > max(staleAfter, 1) ? .stale : .ok
            } else {
                state = Double(now.bootNanos &- startedAt.bootNanos) / 1e9 > max(staleAfter, 1) ? .stale : .unknown
            }
            return SensorHealth(id: id, state: state, errorCount: entry.errorCount, errorsByKind: entry.errorsByKind,
                                lastError: entry.lastError, lastReadingAgeSeconds: age)
        }
    }
}
