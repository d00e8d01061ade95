import EdgeCore
import Foundation

extension Scenario {
    /// The physical value `elapsed` after the scenario's start.
    ///
    /// Noise is a pure function of the seed and the instant, so the same scenario read at
    /// the same time gives the same value however often and in whatever order it is read.
    public func value(at elapsed: Duration) -> Double {
        let seconds = elapsed.inSeconds
        let base: Double
        switch shape {
        case .constant(let value):
            base = value
        case .sine(let mean, let amplitude, let period):
            let periodSeconds = period.inSeconds
            // A period of 0 (which no profile can give) holds the mean instead of dividing by it.
            base = periodSeconds > 0 ? mean + amplitude * sin(2 * .pi * seconds / periodSeconds) : mean
        case .ramp(let start, let perSecond, let limit):
            let raw = start + perSecond * seconds
            if let limit { base = perSecond >= 0 ? min(raw, limit) : max(raw, limit) } else { base = raw }
        case .step(let before, let after, let at):
            base = elapsed < at ? before : after
        case .points(let points):
            base = Self.interpolate(points, at: elapsed)
        }
        guard noise > 0 else { return base }
        var random = SeededRandom(seed: seed ^ UInt64(truncatingIfNeeded: elapsed.components.seconds &* 1_000_000_000
            &+ elapsed.components.attoseconds / 1_000_000_000))
        // Box–Muller: two uniforms in (0, 1] → one standard normal.
        let u1 = Double(random.next() >> 11 + 1) / Double(1 << 53)
        let u2 = Double(random.next() >> 11) / Double(1 << 53)
        return base + noise * sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
    }

    static func interpolate(_ points: [Point], at elapsed: Duration) -> Double {
        guard let first = points.first, let last = points.last else { return 0 }
        if elapsed <= first.at { return first.value }
        if elapsed >= last.at { return last.value }
        for (a, b) in zip(points, points.dropFirst()) where elapsed >= a.at && elapsed < b.at {
            let fraction = (elapsed - a.at) / (b.at - a.at)
            return a.value + (b.value - a.value) * fraction
        }
        return last.value
    }

    /// Whether the device is silent at `elapsed` (inside a dropout window).
    public func isDroppedOut(at elapsed: Duration) -> Bool {
        dropouts.contains { elapsed >= $0.start && elapsed < $0.start + $0.length }
    }
}

/// A scenario pinned to the instant a simulated device was created.
struct ScenarioClock: Sendable {
    let scenario: Scenario
    let clock: any DeviceClock
    let start: DeviceTime

    init(_ scenario: Scenario, clock: any DeviceClock) {
        self.scenario = scenario
        self.clock = clock
        self.start = clock.now()
    }

    var value: Double { scenario.value(at: clock.elapsed(since: start)) }
    var droppedOut: Bool { scenario.isDroppedOut(at: clock.elapsed(since: start)) }
}
