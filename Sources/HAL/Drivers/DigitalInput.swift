import EdgeCore

/// A switch on a GPIO line: a float switch (auto top-off) or a leak sensor.
///
/// Debounced by requiring one level to hold for `debounce`, sampled on the injected
/// clock, so a float bobbing on a ripple does not toggle the top-off pump.
public struct DigitalInput: Sensor {
    public enum Kind: Sendable, Hashable {
        /// Channel `level`: 1 = float up / water at the switch.
        case floatSwitch
        /// Channel `wet`: 1 = wet.
        case leakSwitch
    }

    public let line: any GPIOInputLine
    public let kind: Kind
    public let debounce: Duration
    public let sampleInterval: Duration
    /// Give up after this long without a stable level.
    public let settleLimit: Duration
    public let clock: any DeviceClock

    public init(
        line: any GPIOInputLine, kind: Kind, debounce: Duration = .milliseconds(50),
        sampleInterval: Duration = .milliseconds(10), settleLimit: Duration = .seconds(1), clock: any DeviceClock
    ) {
        self.line = line
        self.kind = kind
        self.debounce = debounce
        self.sampleInterval = sampleInterval
        self.settleLimit = settleLimit
        self.clock = clock
    }

    public var channels: [Channel] {
        switch kind {
        case .floatSwitch: [Channel(name: "level", unit: "state")]
        case .leakSwitch: [Channel(name: "wet", unit: "state")]
        }
    }

    public func read() async throws -> [Measurement] {
        let start = clock.now()
        var level = try onBus { try line.level() }
        var stableSince = start
        while clock.elapsed(since: stableSince) < debounce {
            guard clock.elapsed(since: start) < settleLimit else {
                throw SensorError.unstable("no level held \(debounce) within \(settleLimit)")
            }
            try await clock.sleep(for: sampleInterval)
            let sample = try onBus { try line.level() }
            if sample != level {
                level = sample
                stableSince = clock.now()
            }
        }
        return [Measurement(channel: channels[0].name, value: level ? 1 : 0, unit: "state")]
    }
}
