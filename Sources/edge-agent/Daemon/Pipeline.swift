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
    /// Rings the notification stages when the engine recorded events.
    private let eventsRecorded: @Sendable () -> Void

    init(board: Board, storage: StorageSupervisor, alerts: AlertEngine, alertDatabase: LocalDatabase?,
         health: SensorHealthTracker, logger: Logger, eventsRecorded: @escaping @Sendable () -> Void = {}) {
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
        self.eventsRecorded = eventsRecorded
    }

    func handle(_ poll: PollResult) {
        switch poll.result {
        case .success(let measurements):
            health.recordSuccess(poll.sensorID, at: poll.takenAt)
            for measurement in measurements {
                guard let sample = filter(poll.sensorID, measurement, at: poll.takenAt) else { continue }
                record(sample)
            }
        case .failure(let error):
            health.recordFailure(poll.sensorID, kind: error.kind, message: error.description)
            logger.warning("sensor read failed", metadata: ["sensor": "\(poll.sensorID)", "error": "\(error)"])
            let readingIDs = routes.withLock { $0[poll.sensorID]?.values.map(\.readingID) ?? [] }
            for readingID in readingIDs.sorted() {
                do {
                    recorded(try alerts.sensorFailed(readingID, error: error.description))
                } catch {
                    alertFailed(readingID, error)
                }
            }
        }
    }

    /// Heartbeat filters re-emit on time, not on samples.
    func tick(at now: DeviceTime) {
        let due: [Sample] = routes.withLock { table in
            var out: [Sample] = []
            for (sensorID, channels) in table {
                for (channel, var route) in channels {
                    if let emitted = route.filters.tick(at: now) {
                        out.append(route.sample(emitted, at: now))
                    }
                    table[sensorID]?[channel] = route
                }
            }
            return out
        }
        for sample in due { record(sample) }
    }

    /// The measurement through its channel's filters: a sample, or nil while a filter holds it back.
    private func filter(_ sensorID: String, _ measurement: Measurement, at time: DeviceTime) -> Sample? {
        routes.withLock { table -> Sample? in
            guard var route = table[sensorID]?[measurement.channel] else { return nil }
            defer { table[sensorID]?[measurement.channel] = route }
            return route.filters.process(measurement.value, at: time).map { route.sample($0, at: time) }
        }
    }

    /// One sample to both stages after the filters. A sample taken before the clock is
    /// synchronised keeps its measured quality and carries its clock state in `time`; the store
    /// re-stamps it once the clock is right, and the alert engine skips it when it is suspect.
    /// Neither stage's failure stops the other.
    private func record(_ sample: Sample) {
        do {
            try storage.append(sample)
        } catch {
            logger.error("reading not stored", metadata: ["sensor": "\(sample.sensorID)", "error": "\(error)"])
        }
        do {
            recorded(try alerts.evaluate(sample))
        } catch {
            alertFailed(sample.sensorID, error)
        }
    }

    private func alertFailed(_ readingID: String, _ error: any Error) {
        logger.error("alert engine failed", metadata: ["sensor": "\(readingID)", "error": "\(error)"])
        storage.reportFailure(error, in: alertDatabase, during: "recording alert state")
    }

    /// Alert transitions and output switches go to the log as well as to the store: while
    /// storage is down, the log is where they can be seen afterwards. Notify is rung.
    func recorded(_ events: [AlertEvent]) {
        guard !events.isEmpty else { return }
        eventsRecorded()
        for event in events {
            logger.notice("alert event", metadata: [
                "rule": "\(event.ruleID)", "kind": "\(event.kind.rawValue)", "message": "\(event.message)"])
        }
    }
}

extension ChannelRoute {
    /// A filter's output as the sample the later stages receive.
    func sample(_ output: FilterOutput, at time: DeviceTime) -> Sample {
        Sample(sensorID: readingID, value: output.value, unit: unit, quality: output.quality, time: time)
    }
}
