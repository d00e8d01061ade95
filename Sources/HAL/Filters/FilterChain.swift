import EdgeCore

/// One filter step, with ESPHome's names and defaults so a reef keeper's habits carry over.
public enum FilterSpec: Sendable, Hashable {
    case offset(Double)
    case multiply(Double)
    /// Least-squares line through `(measured, true)` points (2 or 3 of them).
    case calibrateLinear([CalibrationPoint])
    case median(window: Int, sendEvery: Int, sendFirstAt: Int)
    case slidingWindowMovingAverage(window: Int, sendEvery: Int, sendFirstAt: Int)
    case exponentialMovingAverage(alpha: Double, sendEvery: Int)
    /// Passes a value only when it differs from the last passed one by at least this much.
    case delta(Double)
    /// At most one value per interval.
    case throttle(Duration)
    /// Out-of-range values are dropped (`ignoreOutOfRange`) or clamped and marked suspect.
    case clamp(min: Double?, max: Double?, ignoreOutOfRange: Bool)
    /// Re-sends the last value every interval even when nothing new passed.
    case heartbeat(Duration)

    public struct CalibrationPoint: Sendable, Hashable {
        public var measured: Double
        public var actual: Double
        public init(measured: Double, actual: Double) {
            self.measured = measured
            self.actual = actual
        }
    }
}

/// How much a filtered value can be trusted; Readings maps it onto its quality flag.
public struct FilterOutput: Sendable, Hashable {
    public var value: Double
    public var quality: SampleQuality
    public init(value: Double, quality: SampleQuality) {
        self.value = value
        self.quality = quality
    }
}

/// A sensor channel's filters with their state: fed every sample, emits zero or one value.
/// A value type, so each channel owns its chain and tests replay it exactly.
public struct FilterChain: Sendable {
    private var stages: [Stage]
    private var lastOutput: FilterOutput?
    private var heartbeat: (interval: UInt64, lastSent: UInt64?)?

    public init(_ specs: [FilterSpec]) {
        stages = specs.compactMap { spec in
            if case .heartbeat = spec { return nil }
            return Stage(spec)
        }
        for case .heartbeat(let interval) in specs {
            heartbeat = (UInt64(max(0, interval.saturatingNanos)), nil)
        }
    }

    public mutating func process(_ value: Double, at time: DeviceTime) -> FilterOutput? {
        var current = FilterOutput(value: value, quality: .ok)
        for index in stages.indices {
            guard let next = stages[index].apply(current, at: time.bootNanos) else { return nil }
            current = next
        }
        // A scale or calibration that overflows to ±inf (or NaN) yields no reading, never a non-finite one.
        guard current.value.isFinite else { return nil }
        lastOutput = current
        heartbeat?.lastSent = time.bootNanos
        return current
    }

    /// The heartbeat's re-send, when it is due.
    public mutating func tick(at time: DeviceTime) -> FilterOutput? {
        guard let beat = heartbeat, let last = lastOutput else { return nil }
        if let sent = beat.lastSent, time.bootNanos &- sent < beat.interval { return nil }
        heartbeat?.lastSent = time.bootNanos
        return last
    }

    private enum Stage: Sendable {
        case map(@Sendable (Double) -> Double)
        case window(size: Int, sendEvery: Int, sendFirstAt: Int, values: [Double], count: Int, median: Bool)
        case ema(alpha: Double, sendEvery: Int, average: Double?, count: Int)
        case delta(Double, last: Double?)
        case throttle(UInt64, last: UInt64?)
        case clamp(min: Double?, max: Double?, ignore: Bool)

        init(_ spec: FilterSpec) {
            switch spec {
            case .offset(let d): self = .map { $0 + d }
            case .multiply(let k): self = .map { $0 * k }
            case .calibrateLinear(let points):
                let (slope, intercept) = Self.leastSquares(points)
                self = .map { slope * $0 + intercept }
            case .median(let w, let e, let f):
                self = .window(size: w, sendEvery: e, sendFirstAt: f, values: [], count: 0, median: true)
            case .slidingWindowMovingAverage(let w, let e, let f):
                self = .window(size: w, sendEvery: e, sendFirstAt: f, values: [], count: 0, median: false)
            case .exponentialMovingAverage(let alpha, let e): self = .ema(alpha: alpha, sendEvery: e, average: nil, count: 0)
            case .delta(let d): self = .delta(d, last: nil)
            case .throttle(let d): self = .throttle(UInt64(max(0, d.saturatingNanos)), last: nil)
            case .clamp(let lo, let hi, let ignore): self = .clamp(min: lo, max: hi, ignore: ignore)
            case .heartbeat: self = .map { $0 }
            }
        }

        mutating func apply(_ input: FilterOutput, at nanos: UInt64) -> FilterOutput? {
            switch self {
            case .map(let f):
                return FilterOutput(value: f(input.value), quality: input.quality)
            case .window(let size, let sendEvery, let sendFirstAt, var values, var count, let median):
                values.append(input.value)
                if values.count > size { values.removeFirst(values.count - size) }
                count += 1
                self = .window(size: size, sendEvery: sendEvery, sendFirstAt: sendFirstAt, values: values, count: count, median: median)
                // ESPHome: the first value goes out at `send_first_at`, then every `send_every`.
                guard count == sendFirstAt || (count > sendFirstAt && (count - sendFirstAt) % sendEvery == 0) else { return nil }
                let value: Double
                if median {
                    let sorted = values.sorted()
                    let mid = sorted.count / 2
                    value = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
                } else {
                    value = values.reduce(0, +) / Double(values.count)
                }
                return FilterOutput(value: value, quality: max(input.quality, .filtered))
            case .ema(let alpha, let sendEvery, let average, var count):
                let next = average.map { alpha * input.value + (1 - alpha) * $0 } ?? input.value
                count += 1
                self = .ema(alpha: alpha, sendEvery: sendEvery, average: next, count: count)
                guard count % sendEvery == 0 else { return nil }
                return FilterOutput(value: next, quality: max(input.quality, .filtered))
            case .delta(let threshold, let last):
                if let last, abs(input.value - last) < threshold { return nil }
                self = .delta(threshold, last: input.value)
                return input
            case .throttle(let interval, let last):
                if let last, nanos &- last < interval { return nil }
                self = .throttle(interval, last: nanos)
                return input
            case .clamp(let lo, let hi, let ignore):
                var value = input.value
                if let lo, value < lo { if ignore { return nil }; value = lo }
                if let hi, value > hi { if ignore { return nil }; value = hi }
                return FilterOutput(value: value, quality: value == input.value ? input.quality : .suspect)
            }
        }

        static func leastSquares(_ points: [FilterSpec.CalibrationPoint]) -> (slope: Double, intercept: Double) {
            let n = Double(points.count)
            let sx = points.reduce(0) { $0 + $1.measured }, sy = points.reduce(0) { $0 + $1.actual }
            let sxx = points.reduce(0) { $0 + $1.measured * $1.measured }, sxy = points.reduce(0) { $0 + $1.measured * $1.actual }
            let denominator = n * sxx - sx * sx
            guard denominator != 0 else { return (1, 0) }
            let slope = (n * sxy - sx * sy) / denominator
            return (slope, (sy - slope * sx) / n)
        }
    }
}
