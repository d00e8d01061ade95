import AlertEngine
import EdgeCore
import HAL
import Logging
import Profiles
import Readings
import Synchronization

/// One profile's running parts: the board, its poller, the filters and the alert rules.
/// SIGHUP swaps sessions; the stores outlive them.
final class Session: Sendable {
    let profile: DeviceProfile
    let board: Board
    let pipeline: Pipeline
    let alerts: AlertEngine
    let health: SensorHealthTracker
    let startedAt: DeviceTime
    private let clock: any DeviceClock
    private let logger: Logger
    private let alertStore: AlertStore
    private let storage: StorageSupervisor
    private let alertDatabase: LocalDatabase?
    private let polling = Mutex<Task<Void, Never>?>(nil)

    /// Alerts go to the storage's alert store of the moment; the daemon builds a new session
    /// when the storage changes (back up, or a new store after a quarantine).
    /// - Parameter eventsRecorded: rings the notification stages when the engine records events.
    init(profile: DeviceProfile, storage: StorageSupervisor, clock: any DeviceClock, logger: Logger,
         eventsRecorded: @escaping @Sendable () -> Void = {}) throws {
        self.profile = profile
        self.clock = clock
        self.logger = logger
        self.storage = storage
        (alertStore, alertDatabase) = try storage.alertStore()
        self.startedAt = clock.now()
        board = try BoardBuilder(clock: clock).build(profile)
        let policies = board.outputs.mapValues { OutputPolicy(normal: $0.normal, failSafe: $0.failSafe) }
        alerts = try AlertEngine(rules: profile.alerts, store: alertStore, clock: clock, outputs: policies,
                                 driver: BoardOutputDriver(outputs: board.outputs))
        health = SensorHealthTracker(sensors: board.sensors.map { ($0.id, $0.interval) })
        pipeline = Pipeline(board: board, storage: storage, alerts: alerts, alertDatabase: alertDatabase, health: health, logger: logger,
                            eventsRecorded: eventsRecorded)
    }

    var summary: String { "polling \(board.sensors.count) sensors, \(profile.alerts.count) alert rules" }

    /// Polls every sensor until `stop()` or cancellation of the caller.
    func poll() async {
        let poller = SensorPoller(sensors: board.sensors.map { PolledSensor(id: $0.id, sensor: $0.sensor, interval: $0.interval) },
                                  clock: clock)
        let pipeline = self.pipeline
        let task = Task { await poller.run { pipeline.handle($0) } }
        polling.withLock { $0 = task }
        await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
    }

    func stop() async {
        let task = polling.withLock { $0 }
        task?.cancel()
        await task?.value
    }

    func tick(at now: DeviceTime) {
        pipeline.tick(at: now)
        do {
            pipeline.recorded(try alerts.tick())
        } catch {
            logger.error("alert timer failed", metadata: ["error": "\(error)"])
            storage.reportFailure(error, in: alertDatabase, during: "alert timer")
        }
    }

    /// Every declared output to its fail-safe state: the agent is about to stop.
    func failSafe() {
        do { try alerts.failSafe() } catch { logger.error("fail-safe failed", metadata: ["error": "\(error)"]) }
    }

    func firingCount() -> Int {
        (try? alertStore.active().filter { $0.state == .firing }.count) ?? 0
    }
}

/// The alert engine's outputs are the board's GPIO output lines.
struct BoardOutputDriver: AlertOutputs {
    let outputs: [String: BoardOutput]
    func set(_ output: String, on: Bool) throws {
        guard let line = outputs[output]?.line else {
            throw CLIError("output '\(output)' is not declared on this board")
        }
        try line.set(on)
    }
}
