import Wire

/// Several events told as one message: after an outage longer than `max_age`, or when the
/// rate cap leaves a single message for everything pending.
public struct NotifySummary: Sendable, Hashable {
    public enum Reason: Sendable, Hashable {
        case offline, rateCapped
    }

    public var reason: Reason
    public var count: Int
    public var byKind: [AlertEventKind: Int]
    public var firstMillis: Int64
    public var lastMillis: Int64

    public init(_ reason: Reason, events: [WireAlertEvent]) {
        self.reason = reason
        count = events.count
        byKind = Dictionary(grouping: events, by: \.kind).mapValues(\.count)
        firstMillis = events.map(\.timestampMillis).min() ?? 0
        lastMillis = events.map(\.timestampMillis).max() ?? 0
    }

    /// This summary and `later`'s, for one outage read in several windows.
    public func merging(_ later: NotifySummary) -> NotifySummary {
        var merged = self
        merged.count += later.count
        merged.byKind.merge(later.byKind, uniquingKeysWith: +)
        merged.firstMillis = min(firstMillis, later.firstMillis)
        merged.lastMillis = max(lastMillis, later.lastMillis)
        return merged
    }

    /// Exact counts and where to read the rest, e.g.
    /// "7 more alerts since 14:02:00: 2 fired, 5 resolved — edge-agent alerts history".
    public var text: String {
        let parts = AlertEventKind.allCases.compactMap { kind in byKind[kind].map { "\($0) \(kind.verb)" } }
        let alerts = "alert\(count == 1 ? "" : "s")"
        let head = switch reason {
        case .offline: "\(count) \(alerts) from \(NotifyTime.clock(firstMillis)) to \(NotifyTime.clock(lastMillis)) while offline"
        case .rateCapped: "\(count) more \(alerts) since \(NotifyTime.clock(firstMillis))"
        }
        return "\(head): \(parts.joined(separator: ", ")) — edge-agent alerts history"
    }
}
