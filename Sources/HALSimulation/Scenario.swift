import EdgeCore

/// How a simulated sensor's physical value moves over time.
///
/// Evaluated against the injected clock, so a scenario replays exactly. The simulated
/// chip then encodes this value into the bytes (or sysfs text) the real chip would produce.
public struct Scenario: Sendable, Hashable {
    public enum Shape: Sendable, Hashable {
        case constant(Double)
        /// mean + amplitude × sin(2π t / period)
        case sine(mean: Double, amplitude: Double, period: Duration)
        /// from `start`, changing by `perSecond`, held at `limit` if given
        case ramp(start: Double, perSecond: Double, limit: Double?)
        /// `before` until `at` after the scenario's start, then `after`
        case step(before: Double, after: Double, at: Duration)
        /// Straight lines between scripted points (a heater failing and recovering); held
        /// at the first value before the first point and at the last after the last.
        case points([Point])
    }

    public struct Point: Sendable, Hashable {
        public var at: Duration
        public var value: Double
        public init(at: Duration, value: Double) {
            self.at = at
            self.value = value
        }
    }

    public var shape: Shape
    /// Standard deviation of seeded Gaussian noise added to the shape (0 = none).
    public var noise: Double
    public var seed: UInt64
    /// Windows (offset from start, length) during which the device stops answering.
    public var dropouts: [Dropout]

    public struct Dropout: Sendable, Hashable {
        public var start: Duration
        public var length: Duration
        public init(start: Duration, length: Duration) {
            self.start = start
            self.length = length
        }
    }

    public init(shape: Shape, noise: Double = 0, seed: UInt64 = 1, dropouts: [Dropout] = []) {
        self.shape = shape
        self.noise = noise
        self.seed = seed
        self.dropouts = dropouts
    }

    /// The scenario of `offset + scale × value`: a unit conversion (scale), or a switch seen
    /// through an inverting contact (offset 1, scale -1). Noise scales by the magnitude.
    public func mapped(offset: Double = 0, scale: Double) -> Scenario {
        func f(_ v: Double) -> Double { offset + scale * v }
        var out = self
        out.shape = switch shape {
        case .constant(let v): .constant(f(v))
        case .sine(let mean, let amplitude, let period): .sine(mean: f(mean), amplitude: scale * amplitude, period: period)
        case .ramp(let start, let perSecond, let limit): .ramp(start: f(start), perSecond: scale * perSecond, limit: limit.map(f))
        case .step(let before, let after, let at): .step(before: f(before), after: f(after), at: at)
        case .points(let points): .points(points.map { Point(at: $0.at, value: f($0.value)) })
        }
        out.noise = abs(scale) * noise
        return out
    }

    /// The same value at every instant.
    public var isConstant: Bool {
        if case .constant = shape { return noise == 0 }
        return false
    }
}
