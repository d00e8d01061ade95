import NotifyDelivery
import Wire

/// What a target does next with the events after its cursor: the pure half of the Notify
/// pipeline, so that grouping and the offline collapse are tested without a clock or a network.
///
/// Every plan covers a contiguous range of the event log starting right after the cursor,
/// events the target's filter refuses included, so that one cursor per target stays exact:
/// moving it past the range never skips an event the target should have had.
public enum NotifyPlan: Sendable, Hashable {
    /// Nothing after the cursor.
    case idle
    /// Only events this target does not want: move the cursor, send nothing.
    case skip(through: Int64)
    /// The oldest wanted event's grouping window is still open: plan again then.
    case wait(untilMillis: Int64)
    /// One message with `events` (the wanted ones), covering `range`.
    case send(events: [WireAlertEvent], range: SequenceRange)
    /// One summary instead of a burst: events older than `max_age`, or everything pending
    /// when the rate cap allows one more message this period.
    case summary(NotifySummary, range: SequenceRange)

    /// - Parameters:
    ///   - pending: the events after the cursor, ascending sequence, as the source returned them.
    ///   - rate: the target's recent messages; nil for no cap (`notify test`).
    ///   - maxEventsPerMessage: a bound on one message; the rest goes in the next.
    public static func next(pending: [WireAlertEvent], target: NotifyTarget, nowMillis: Int64, rate: RateWindow? = nil,
                            maxEventsPerMessage: Int = 50) -> NotifyPlan {
        guard let first = pending.first, let last = pending.last else { return .idle }
        let wanted = pending.filter(target.filter.admits)
        guard let oldest = wanted.first else { return .skip(through: last.sequence) }
        if let blocked = rate?.blockedUntil(nowMillis: nowMillis) { return .wait(untilMillis: blocked) }

        // Offline collapse: the leading run of events older than max_age, by sequence (a clock
        // step can make timestamps non-monotonic; the range must stay contiguous).
        let cutoff = nowMillis - target.maxAge.saturatingMillis
        if oldest.timestampMillis < cutoff {
            let stale = pending.prefix { $0.timestampMillis < cutoff }
            let staleWanted = stale.filter(target.filter.admits)
            if let staleLast = stale.last, !staleWanted.isEmpty {
                return .summary(NotifySummary(.offline, events: staleWanted),
                                range: SequenceRange(first: first.sequence, last: staleLast.sequence))
            }
        }

        let closes = oldest.timestampMillis + target.groupingWindow.saturatingMillis
        guard nowMillis >= closes else { return .wait(untilMillis: closes) }
        var group: [WireAlertEvent] = []
        for event in wanted {
            guard event.timestampMillis < closes || event.sequence == oldest.sequence, group.count < maxEventsPerMessage else { break }
            group.append(event)
        }
        if let rate, rate.remaining(nowMillis: nowMillis) == 1, wanted.count > group.count {
            // The last message of the period carries everything pending, so nothing waits a
            // whole period behind the cap and nothing is dropped.
            return .summary(NotifySummary(.rateCapped, events: wanted),
                            range: SequenceRange(first: first.sequence, last: wanted.last!.sequence))
        }
        return .send(events: group, range: SequenceRange(first: first.sequence, last: group.last!.sequence))
    }
}
