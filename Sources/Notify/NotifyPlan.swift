import Wire

/// Events too old to be worth a message each, told as one.
public struct StaleSummary: Sendable, Hashable {
    public var count: Int
    public var byKind: [AlertEventKind: Int]
    public var firstMillis: Int64
    public var lastMillis: Int64

    /// "7 alerts from 02:10:00 to 07:55:12 while offline: 5 fired, 2 resolved — edge-agent alerts history"
    public var text: String {
        let parts = AlertEventKind.allCases.compactMap { kind in byKind[kind].map { "\($0) \(kind.verb)" } }
        return "\(count) alert\(count == 1 ? "" : "s") from \(NotifyTime.clock(firstMillis)) to \(NotifyTime.clock(lastMillis)) "
            + "while offline: \(parts.joined(separator: ", ")) — edge-agent alerts history"
    }
}

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
    /// Wanted events older than `max_age`: one summary instead of a burst of old alarms.
    case summary(StaleSummary, range: SequenceRange)

    /// - Parameters:
    ///   - pending: the events after the cursor, ascending sequence, as the source returned them.
    ///   - maxEventsPerMessage: a bound on one message; the rest goes in the next.
    public static func next(pending: [WireAlertEvent], target: NotifyTarget, nowMillis: Int64,
                            maxEventsPerMessage: Int = 50) -> NotifyPlan {
        guard let first = pending.first, let last = pending.last else { return .idle }
        let wanted = pending.filter(target.filter.admits)
        guard let oldest = wanted.first else { return .skip(through: last.sequence) }

        // Offline collapse: the leading run of events older than max_age, by sequence (a clock
        // step can make timestamps non-monotonic; the range must stay contiguous).
        let cutoff = nowMillis - target.maxAge.saturatingMillis
        if oldest.timestampMillis < cutoff {
            let stale = pending.prefix { $0.timestampMillis < cutoff }
            let staleWanted = stale.filter(target.filter.admits)
            if let staleLast = stale.last, !staleWanted.isEmpty {
                let summary = StaleSummary(
                    count: staleWanted.count,
                    byKind: Dictionary(grouping: staleWanted, by: \.kind).mapValues(\.count),
                    firstMillis: staleWanted.map(\.timestampMillis).min()!,
                    lastMillis: staleWanted.map(\.timestampMillis).max()!)
                return .summary(summary, range: SequenceRange(first: first.sequence, last: staleLast.sequence))
            }
        }

        let closes = oldest.timestampMillis + target.groupingWindow.saturatingMillis
        guard nowMillis >= closes else { return .wait(untilMillis: closes) }
        var group: [WireAlertEvent] = []
        for event in wanted {
            guard event.timestampMillis < closes || event.sequence == oldest.sequence, group.count < maxEventsPerMessage else { break }
            group.append(event)
        }
        return .send(events: group, range: SequenceRange(first: first.sequence, last: group.last!.sequence))
    }
}
