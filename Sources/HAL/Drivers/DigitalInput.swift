import EdgeCore

/// A switch on a GPIO line: a float switch (auto top-off) or a leak sensor.
///
/// Debounced by requiring one level to hold for `debounce` with no edge in between, timed on
/// the injected clock, so a float bobbing on a ripple does not toggle the top-off pump.
public struct DigitalInput: Sensor {
    public enum Kind: Sendable, Hashable {
        /// Channel `level`: 1 = float up / water at the switch.
        case floatSwitch
        /// Channel `wet`: 1 = wet.
        case leakSwitch

        public var channels: [Channel] {
            switch self {
            case .floatSwitch: [Channel(name: "level", unit: "state")]
            case .leakSwitch: [Channel(name: "wet", unit: "state")]
            }
        }
    }

    public let line: any GPIOInputLine
    public let kind: Kind
    public let debounce: Duration
    /// Give up after this long without a stable level.
    public let settleLimit: Duration
    public let clock: any DeviceClock

    public init(
        line: any GPIOInputLine, kind: Kind, debounce: Duration = .milliseconds(50),
        settleLimit: Duration = .seconds(1), clock: any DeviceClock
    ) {
        self.line = line
        self.kind = kind
        // A debounce longer than the settle limit could never succeed; it would only hold the poll.
        self.debounce = min(max(debounce, .zero), settleLimit)
        self.settleLimit = settleLimit
        self.clock = clock
    }

    public var channels: [Channel] { kind.channels }

    /// Waits out `debounce` once and asks the line's edge queue whether anything moved in
    /// between: the kernel timestamps every edge, so a bounce shorter than any polling
    /// interval still counts, and a stable switch costs one wake-up a read instead of one per
    /// sample (at 1 Hz, sampling every 10 ms was most of the agent's wake-ups).
    public func read() async throws -> [Measurement] {
        let start = clock.now()
        _ = try onBus { try line.drainEdges() }
        var level = try onBus { try line.level() }
        while true {
            try await clock.sleep(for: debounce)
            let moved = try onBus { try line.drainEdges() }
            let now = try onBus { try line.level() }
            if moved.edges.isEmpty, moved.dropped == 0, now == level { break }
            level = now
            guard clock.elapsed(since: start) < settleLimit else {
                throw SensorError.unstable("no level held \(debounce) within \(settleLimit)")
            }
        }
        return [Measurement(channel: channels[0].name, value: level ? 1 : 0, unit: "state")]
    }
}
