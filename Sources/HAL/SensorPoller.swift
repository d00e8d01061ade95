import EdgeCore

/// The outcome of one poll: the measurements, or why there are none.
public struct PollResult: Sendable {
    public var sensorID: String
    /// When the read completed.
    public var takenAt: DeviceTime
    public var result: Result<[Measurement], SensorError>

    public init(sensorID: String, takenAt: DeviceTime, result: Result<[Measurement], SensorError>) {
        self.sensorID = sensorID
        self.takenAt = takenAt
        self.result = result
    }
}

/// A sensor and how often to poll it.
public struct PolledSensor: Sendable {
    public var id: String
    public var sensor: any Sensor
    public var interval: Duration

    public init(id: String, sensor: any Sensor, interval: Duration) {
        self.id = id
        self.sensor = sensor
        self.interval = interval
    }
}

/// Polls every sensor in its own child task on its own interval, so one chip's mandated
/// delay (an EZO's 900 ms read) never delays another sensor's poll.
///
/// Polls are scheduled on the monotonic clock from the first poll's start, so they do not
/// drift; a read that overruns its interval skips the missed slots instead of bursting.
/// A failed read is delivered as an error and retried at the next slot.
public struct SensorPoller: Sendable {
    public let sensors: [PolledSensor]
    public let clock: any DeviceClock

    public init(sensors: [PolledSensor], clock: any DeviceClock) {
        self.sensors = sensors
        self.clock = clock
    }

    /// Polls until cancelled, handing each result to `deliver` as it completes.
    public func run(deliver: @escaping @Sendable (PollResult) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            for polled in sensors {
                group.addTask { await poll(polled, deliver: deliver) }
            }
        }
    }

    private func poll(_ polled: PolledSensor, deliver: @Sendable (PollResult) async -> Void) async {
        let interval = UInt64(max(1, polled.interval.saturatingNanos))
        let origin = clock.now().bootNanos
        var slot: UInt64 = 0
        while !Task.isCancelled {
            let result: Result<[Measurement], SensorError>
            do {
                result = .success(try await polled.sensor.read())
            } catch is CancellationError {
                return
            } catch {
                result = .failure(SensorError.wrapping(error))
            }
            await deliver(PollResult(sensorID: polled.id, takenAt: clock.now(), result: result))
            // The next slot after the delivery returned: a slow hand-off (a commit, an alert
            // action) skips slots like a slow read does, and never makes the wait negative.
            let now = clock.now().bootNanos
            let elapsed = now - origin
            slot = max(slot + 1, elapsed / interval + (elapsed % interval == 0 ? 0 : 1))
            // Saturating: no interval, however long, makes the schedule trap.
            let (offset, overflow) = slot.multipliedReportingOverflow(by: interval)
            let deadline = overflow || offset > UInt64.max - origin ? UInt64.max : origin + offset
            do { try await clock.sleep(for: .nanoseconds(Int64(clamping: deadline > now ? deadline - now : 0))) } catch { return }
        }
    }
}
