import EdgeCore
import Readings

/// This boot's readings taken before the wall clock was synchronised, held back from the
/// server while they may still be re-stamped (see docs/SYNC.md, "Clock-unsynced readings").
///
/// The hold is derived from the rows, not kept in memory: it began when the first held
/// reading was taken (its `boot_ns`, on this boot's monotonic clock) and ends `clockHold`
/// later. An agent that restarts now and then therefore does not start a new hold each
/// time, and a device whose clock never synchronises still sends every reading.
public struct ClockHold: Sendable, Hashable {
    /// The first held sequence: batches stop before it.
    public var firstSequence: Int64
    /// Readings from `firstSequence` on, all waiting behind it.
    public var heldReadings: Int
    /// Time left before they go with provisional timestamps.
    public var remaining: Duration

    /// The hold in force at `now`, or nil. Nothing is held once readings at or past the first
    /// correctable one have gone (after an earlier hold, or by `sync --once`): holding would
    /// only delay readings behind rows the server already has.
    /// - Parameter position: where the readings stream's next batch starts (exclusive).
    public static func current(readings: any SyncReadingSource, position: Int64, now: DeviceTime,
                               hold: Duration) throws -> ClockHold? {
        guard let first = try readings.firstCorrectableSequence(), first > position,
              let takenAt = try readings.bootNanos(ofSequence: first) else { return nil }
        let holdNanos = Int64(clamping: hold.saturatingMillis) &* 1_000_000
        let elapsed = Int64(clamping: now.bootNanos) - takenAt
        guard elapsed < holdNanos else { return nil }
        let held = try readings.backlog(afterSequence: first - 1).count
        return ClockHold(firstSequence: first, heldReadings: held, remaining: .nanoseconds(holdNanos - max(0, elapsed)))
    }

    /// The health reason that says what is held and why.
    public var reason: String {
        let seconds = remaining.secondsRoundedUp
        let left = seconds >= 60 ? "\(seconds / 60) min" : "\(seconds) s"
        return "\(heldReadings) readings held back until the wall clock is synchronised, so they get true timestamps; sent with provisional timestamps in \(left) if it is not"
    }
}
