import EdgeCore

/// The range of every number and the length of every name a profile may hold: wide enough
/// for any reef and any probe, narrow enough that every profile the loader accepts is safe
/// to run (no register overflow, no endless loop, no reading dropped for its id or unit).
/// docs/PROFILES.md lists them.
public enum ProfileLimits {
    /// Bus, sensor, output and rule ids, and reading ids (`id.channel`): the store and the
    /// fleet server refuse longer ones.
    public static let idBytes = 128
    /// A reading's unit, as the store keeps it.
    public static let unitBytes = 32
    public static let textBytes = 1_024

    /// Physical values: thresholds, clamps, calibration points, offsets, simulated values.
    public static let value: ClosedRange<Double> = -1e9 ... 1e9
    /// `multiply` factors and a ramp's change per second.
    public static let factor: ClosedRange<Double> = -1e6 ... 1e6
    /// A scenario's noise (standard deviation).
    public static let noise: ClosedRange<Double> = 0 ... 1e6
    /// A flow meter's pulses per litre.
    public static let kFactor: ClosedRange<Double> = 0.01 ... 100_000
    /// An ADS1115's full scale in volts (the nearest of the chip's six is used).
    public static let fullScale: ClosedRange<Double> = 0.256 ... 6.144
    /// A GPIO line given as an offset.
    public static let lineOffset: ClosedRange<Int> = 0 ... 1_023
    /// `/dev/i2c-N`.
    public static let i2cBus: ClosedRange<Int> = 0 ... 255

    /// A sensor's poll interval.
    public static let interval = Duration.milliseconds(100) ... Duration.seconds(86_400)
    /// A switch's debounce: within the driver's one-second settle limit.
    public static let debounce = Duration.zero ... Duration.milliseconds(500)
    /// `throttle`.
    public static let throttle = Duration.zero ... Duration.seconds(86_400)
    /// `heartbeat`.
    public static let heartbeat = Duration.seconds(1) ... Duration.seconds(86_400)
    /// A sine's period.
    public static let period = Duration.seconds(1) ... DurationText.maximum
    /// A step's `at` and a point's `at`.
    public static let scenarioTime = Duration.zero ... DurationText.maximum
    /// `stale:` rules.
    public static let stale = Duration.seconds(1) ... Duration.seconds(7 * 86_400)
    /// A `rate:` rule's window.
    public static let rateWindow = Duration.seconds(1) ... Duration.seconds(86_400)
    /// A rule's `for:`.
    public static let holdFor = Duration.zero ... Duration.seconds(86_400)
    /// A rule's `flapping.window`.
    public static let flapWindow = Duration.seconds(1) ... Duration.seconds(86_400)
}
