import EdgeCore

/// Watches the wall clock against the monotonic clock, for the agent's poll loop.
///
/// `unixMillis − bootNanos/10⁶` is constant while nothing steps the wall clock; NTP slews
/// it by milliseconds. A change beyond `threshold` is a step: NTP's first fix on a Pi
/// without a real-time clock, or a person's `date -s`. A forward step, or the kernel
/// turning its synchronised flag on, is when `ReadingWriter.synchronizeClock()` should run.
public struct ClockWatch: Sendable {
    public enum Event: Sendable, Hashable {
        /// The kernel now reports the clock as synchronised.
        case synchronized
        /// The wall clock stepped by this many milliseconds relative to the monotonic clock
        /// (negative: backwards).
        case jumped(millis: Int64)
    }

    public let threshold: Duration
    private var last: DeviceTime?

    public init(threshold: Duration = .seconds(2)) {
        self.threshold = threshold
    }

    /// Compares `now` with the previous observation; the first observation reports
    /// `.synchronized` if the clock already is.
    public mutating func observe(_ now: DeviceTime) -> [Event] {
        defer { last = now }
        guard let last else { return now.synchronized ? [.synchronized] : [] }
        var events: [Event] = []
        let step = Self.offset(now) - Self.offset(last)
        if abs(step) > threshold.saturatingMillis { events.append(.jumped(millis: step)) }
        if now.synchronized && !last.synchronized { events.append(.synchronized) }
        return events
    }

    /// Whether these events call for re-stamping clock-unsynced readings.
    public static func shouldSynchronize(_ events: [Event]) -> Bool {
        events.contains { event in
            switch event {
            case .synchronized: true
            case .jumped(let millis): millis > 0
            }
        }
    }

    private static func offset(_ time: DeviceTime) -> Int64 {
        time.unixMillis - Int64(clamping: time.bootNanos / 1_000_000)
    }
}
