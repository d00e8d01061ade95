import AlertEngine
import EdgeCore
import HAL
import Logging
import Readings
import Synchronization

/// The daemon's one-way path for each poll: driver result → filters → Readings → AlertEngine.
/// It owns the filters' state and nothing else; the store and the engine own theirs.
final class Pipeline: Sendable {
    private let routes: Mutex<[String: [String: ChannelRoute]]>
    private let storage: StorageSupervisor
    private let alerts: AlertEngine
    /// The file under the alert engine's store (nil for the in-memory one), so a damaged
    /// file found by an alert write is quarantined like one found by a commit.
    private let alertDatabase: LocalDatabase?
    let health: SensorHealthTracker
    private let logger: Logger

    init(board: Board, storage: StorageSupervisor, alerts: AlertEngine, alertDatabase: LocalDatabase?,
         health: SensorHealthTracker, logger: Logger) {
        var table: [String: [String: ChannelRoute]] = [:]
        for sensor in board.sensors {
            table[sensor.id] = Dictionary(uniqueKeysWithValues: sensor.channels.map { ($0.channel, $0) })
        }
        self.routes = Mutex(table)
        self.storage = storage
        self.alerts = alerts
        self.alertDatabase = alertDatabase
        self.health = health
        self.logger = logger
    }

    func handle(_ poll: PollResult) {
        switch poll.result {
        case .success(let measurements):
            health.recordSuccess(poll.sensorID, at: poll.takenAt)
            for measurement in measurements {
                guard let output = filter(poll.sensorID, measurement, at: poll.takenAt) else { continue }
                record(output.readingID, value: output.value, unit: output.unit, quality: output.quality, at: poll.takenAt)
            }
        case .failure(let error):
            health.recordFailure(poll.sensorID, kind: error.kind, message: error.description)
            logger.warning("sensor read failed", metadata: ["sensor": "\(poll.sensorID)", "error": "\(error)"])
            let readingIDs = routes.withLock { $0[poll.sensorID]?.values.map(\.readingID) ?? [] }
            for readingID in readingIDs.sorted() {
                do {
                    Self.log(try alerts.sensorFailed(readingID, error: error.description), logger)
                } catch {
                    alertFailed(readingID, error)
                }
            }
        }
    }

    /// Heartbeat filters re-emit on time, not on samples.
    func tick(at now: DeviceTime) {
        let due: [(String, String, FilterOutput)] = routes.withLock { table in
            var out: [(String, String, FilterOutput)] = []
            for (sensorID, channels) in table {
                for (channel, var route) in channels {
                    if let emitted = route.filters.tick(at: now) {
                        out.append((route.readingID, route.unit, emitted))
                    }
                    table[sensorID]?[channel] = route
                }
            }
            return out
        }
        for (readingID, unit, emitted) in due {
            record(readingID, value: emitted.value, unit: unit, quality: emitted.quality, at: now)
        }
    }

    private struct Routed {
        var readingID: String
        var unit: String
        var value: Double
        var quality: SampleQuality
    }

    private func filter(_ sensorID: String, _ measurement: Measurement, at time: DeviceTime) -> Routed? {
        routes.withLock { table -> Routed? in
            guard var route = table[sensorID]?[measurement.channel] else { return nil }
            defer { table[sensorID]?[measurement.channel] = route }
            guard let output = route.filters.process(measurement.value, at: time) else { return nil }
            return Routed(readingID: route.readingID, unit: route.unit, value: output.value, quality: output.quality)
        }
    }

    private func record(_ readingID: String, value: Double, unit: String, quality: SampleQuality, at time: DeviceTime) {
        // A reading taken before the clock is synchronised keeps its measured quality and
        // carries its clock state beside it (`time.synchronized`); the store re-stamps it once
        // the clock is right, and the alert engine still skips it when it is suspect.
        do {
            try storage.append(sensorID: readingID, value: value, unit: unit, quality: quality, takenAt: time)
        } catch {
            logger.error("reading not stored", metadata: ["sensor": "\(readingID)", "error": "\(error)"])
        }
        do {
            Self.log(try alerts.evaluate(Sample(sensorID: readingID, value: value, unit: unit, quality: quality, time: time)),
                     logger)
        } catch {
            alertFailed(readingID, error)
        }
    }

    private func alertFailed(_ readingID: String, _ error: any Error) {
        logger.error("alert engine failed", metadata: ["sensor": "\(readingID)", "error": "\(error)"])
        storage.reportFailure(error, in: alertDatabase, during: "recording alert state")
    }

    /// Alert transitions and output switches go to the log as well as to the store: while
    /// storage is down, the log is where they can be seen afterwards.
    static func log(_ events: [AlertEvent], _ logger: Logger) {
        for event in events {
            logger.notice("alert event", metadata: [
                "rule": "\(event.ruleID)", "kind": "\(event.kind.rawValue)", "message": "\(event.message)"])
        }
    }
}
