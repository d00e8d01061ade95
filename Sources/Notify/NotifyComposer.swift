import NotifyDelivery
import Wire

/// What a target's delivery stage does next with its pending window: the pure step between
/// `NotifyPlan` (grouping, offline collapse, rate cap) and the stage's I/O, adding the two
/// rules that need the whole window: critical events ahead of a backlog, and one message for
/// a flapping rule.
///
/// **Priority with one cursor.** When the cursor's next message leaves urgent events behind
/// it (a critical `fired`/`flapping`/`actuated`, or any `failSafe`), those go first as a
/// message of their own: the events of the rules that have one, from the first such event,
/// grouped by the target's window. They are recorded in `notify_sent_ahead` when accepted,
/// the cursor's later messages leave them out, and the records go when the cursor passes
/// them. A rule with an event inside the cursor's next message is not pulled forward, and a
/// pulled rule brings all its events after that message, so every rule's events still reach
/// the person in order. The priority group depends only on the log and the cursor, so a
/// retry or a restart sends the same group under the same key.
public enum NotifyComposer {
    public enum Step: Sendable, Hashable {
        case idle
        /// Nothing here for this target (refused by its filter, or already sent ahead).
        case skip(through: Int64)
        case wait(untilMillis: Int64)
        /// The cursor's next message; the cursor moves past `range` once it is accepted.
        case send(NotifyContent, range: SequenceRange)
        /// Urgent events ahead of the backlog; remembered, the cursor stays.
        case sendAhead(NotifyContent, sequences: [Int64])
    }

    /// - Parameters:
    ///   - pending: the events after the cursor, ascending.
    ///   - sentAhead: events already sent ahead of the cursor.
    ///   - aheadAllowed: false after a refused priority message, so that the cursor's path
    ///     (which dead-letters properly) takes those events.
    public static func next(pending: [WireAlertEvent], sentAhead: Set<Int64>, target: NotifyTarget, nowMillis: Int64,
                            rate: RateWindow?, maxEventsPerMessage: Int = 50, aheadAllowed: Bool = true) -> Step {
        guard let last = pending.last else { return .idle }
        let remaining = sentAhead.isEmpty ? pending : pending.filter { !sentAhead.contains($0.sequence) }
        guard !remaining.isEmpty else { return .skip(through: last.sequence) }
        let content: NotifyContent
        let range: SequenceRange
        switch NotifyPlan.next(pending: remaining, target: target, nowMillis: nowMillis, rate: rate,
                               maxEventsPerMessage: maxEventsPerMessage) {
        case .idle: return .idle
        case .skip: return .skip(through: last.sequence)
        case .wait(let until): return .wait(untilMillis: until)
        case .send(let events, let planned):
            (content, range) = (.events(collapsingFlaps(events), range: planned), planned)
        case .summary(let summary, let planned):
            (content, range) = (.summary(summary, range: planned), planned)
        }
        if aheadAllowed, let ahead = urgentAhead(of: range, in: remaining, target: target, nowMillis: nowMillis,
                                                 maxEventsPerMessage: maxEventsPerMessage) {
            return ahead
        }
        return .send(content, range: range)
    }

    /// Whether an event must not wait behind lesser ones.
    public static func isUrgent(_ event: WireAlertEvent) -> Bool {
        event.kind == .failSafe || (event.severity == .critical && [.fired, .flapping, .actuated].contains(event.kind))
    }

    static func urgentAhead(of range: SequenceRange, in pending: [WireAlertEvent], target: NotifyTarget, nowMillis: Int64,
                            maxEventsPerMessage: Int) -> Step? {
        let wanted = pending.filter(target.filter.admits)
        let inNext = Set(wanted.lazy.filter { $0.sequence <= range.last }.map(\.ruleID))
        let behind = wanted.filter { $0.sequence > range.last && !inNext.contains($0.ruleID) }
        let rules = Set(behind.lazy.filter(isUrgent).map(\.ruleID))
        let candidates = behind.filter { rules.contains($0.ruleID) }
        guard let first = candidates.first else { return nil }
        let closes = first.timestampMillis + target.groupingWindow.saturatingMillis
        guard nowMillis >= closes else { return nil }
        var group: [WireAlertEvent] = []
        for event in candidates {
            guard event.timestampMillis < closes || event.sequence == first.sequence, group.count < maxEventsPerMessage else { break }
            group.append(event)
        }
        return .sendAhead(.events(collapsingFlaps(group), range: SequenceRange(first: first.sequence, last: group.last!.sequence)),
                          sequences: group.map(\.sequence))
    }

    /// A flapping rule is told once: its `fired` and `resolved` events before its `flapping`
    /// event in the same message are the flaps that led to it, and are left out. (RuleMachine
    /// records nothing more while the rule flaps, and `flappingEnded` only when it settles.)
    public static func collapsingFlaps(_ events: [WireAlertEvent]) -> [WireAlertEvent] {
        var flappingAt: [String: Int64] = [:]
        for event in events where event.kind == .flapping { flappingAt[event.ruleID] = event.sequence }
        guard !flappingAt.isEmpty else { return events }
        return events.filter { event in
            guard let at = flappingAt[event.ruleID], event.sequence < at else { return true }
            return event.kind != .fired && event.kind != .resolved
        }
    }
}
