/// When a group sends, as Alertmanager's aggregation groups do (dispatch.go's aggrGroup),
/// decided purely from what `notify_groups` holds:
/// - a new group waits `groupWait` from its first waiting notice, so an incident's first
///   alerts arrive as one message;
/// - after a message, what arrives next waits until `groupInterval` after it (and at least
///   `groupWait` from its own arrival);
/// - with nothing new and alerts still firing, the firing set is sent again every
///   `repeatInterval`;
/// - a group whose alerts are all resolved starts over (its next notice waits `groupWait`);
/// - a group never flushes while its previous message's job is not over, so its messages
///   arrive in order.
public enum GroupSchedule {
    public enum Decision: Sendable, Hashable {
        case wait
        /// Send what waits.
        case flush
        /// Send the still-firing set again.
        case repeatFiring
    }

    public struct Timing: Sendable, Hashable {
        public var groupWaitMillis: Int64
        public var groupIntervalMillis: Int64
        public var repeatIntervalMillis: Int64

        public init(groupWaitSeconds: Int, groupIntervalSeconds: Int, repeatIntervalSeconds: Int) {
            groupWaitMillis = Int64(groupWaitSeconds) * 1000
            groupIntervalMillis = Int64(groupIntervalSeconds) * 1000
            repeatIntervalMillis = Int64(repeatIntervalSeconds) * 1000
        }
    }

    /// - Parameters:
    ///   - pendingSinceMillis: when the oldest waiting notice arrived, nil with none waiting.
    ///   - lastFlushMillis: the last message, nil for a new (or started-over) group.
    ///   - firing: alerts of the group still firing after the last message.
    ///   - inFlight: the last message's job is not over.
    public static func decide(pendingSinceMillis: Int64?, lastFlushMillis: Int64?, firing: Int, inFlight: Bool,
                              timing: Timing, nowMillis: Int64) -> Decision {
        if inFlight { return .wait }
        if let pending = pendingSinceMillis {
            var due = pending + timing.groupWaitMillis
            if let last = lastFlushMillis { due = max(due, last + timing.groupIntervalMillis) }
            return nowMillis >= due ? .flush : .wait
        }
        if firing > 0, let last = lastFlushMillis, nowMillis >= last + timing.repeatIntervalMillis { return .repeatFiring }
        return .wait
    }
}

/// How long a device may be silent before it is offline: its own override if an operator set
/// one, else the larger of the default and three of its sync intervals (when its health
/// report says what the interval is), so a device that syncs every 10 minutes is not called
/// offline after 5.
public enum OfflineThreshold {
    public static func seconds(override: Int?, syncIntervalSeconds: Double?, defaultSeconds: Int) -> Int {
        if let override { return override }
        guard let interval = syncIntervalSeconds, interval.isFinite, interval > 0 else { return defaultSeconds }
        return max(defaultSeconds, Int(min(interval * 3, 7 * 86_400).rounded(.up)))
    }
}
