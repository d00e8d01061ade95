import EdgeCore
import Synchronization

/// A hall-effect flow meter: pulses on a GPIO line, `kFactor` pulses per litre.
///
/// Each read counts the rising edges since the previous read and divides by the elapsed
/// time on the injected clock. The first read opens the window and waits `firstWindow`.
public final class PulseCounter: Sensor {
    public let line: any GPIOInputLine
    /// Pulses per litre (YF-S201: 450 ≈ 7.5 × 60).
    public let kFactor: Double
    public let firstWindow: Duration
    public let clock: any DeviceClock
    private let windowStart = Mutex<DeviceTime?>(nil)

    public init(line: any GPIOInputLine, kFactor: Double, firstWindow: Duration = .seconds(1), clock: any DeviceClock) {
        self.line = line
        self.kFactor = kFactor
        self.firstWindow = firstWindow
        self.clock = clock
    }

    public static let channels = [Channel(name: "flow", unit: "L/min")]
    public var channels: [Channel] { Self.channels }

    public func read() async throws -> [Measurement] {
        // A k-factor of 0, negative or not finite would turn every count into ±inf or NaN.
        guard kFactor.isFinite, kFactor > 0 else { throw SensorError.noData("k-factor \(kFactor) is not a positive number of pulses per litre") }
        let previous = windowStart.withLock { $0 }
        let start: DeviceTime
        if let previous {
            start = previous
        } else {
            _ = try onBus { try line.drainEdges() }
            start = clock.now()
            windowStart.withLock { $0 = start }
            try await clock.sleep(for: firstWindow)
        }
        let drained = try onBus { try line.drainEdges() }
        let end = clock.now()
        windowStart.withLock { $0 = end }
        guard drained.dropped == 0 else {
            throw SensorError.noData("\(drained.dropped) edges were lost: the pulse rate exceeds what the line can queue")
        }
        guard end.bootNanos > start.bootNanos else { throw SensorError.noData("no time elapsed since the previous flow read") }
        let minutes = Double(end.bootNanos - start.bootNanos) / 60e9
        let pulses = drained.edges.filter(\.rising).count
        return [Measurement(channel: "flow", value: Double(pulses) / kFactor / minutes, unit: "L/min")]
    }
}
