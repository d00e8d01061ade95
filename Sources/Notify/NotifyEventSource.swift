import NotifyDelivery
import Wire

/// Where Notify reads alert events from: AlertEngine's `alert_events` table in the daemon,
/// an array in tests. A protocol rather than a dependency on AlertEngine, as Sync's
/// `SyncEventSource` is, so that Notify builds and is tested without the engine.
public protocol NotifyEventSource: Sendable {
    /// Events with a sequence above `afterSequence`, ascending, at most `limit`.
    func notifyEvents(afterSequence: Int64, limit: Int) throws -> [WireAlertEvent]
    /// How many events lie beyond `afterSequence` (before filtering), for status and health.
    func notifyEventBacklog(afterSequence: Int64) throws -> Int
    /// The newest event's sequence (0 with none): where a new target's cursor starts.
    func notifyNewestSequence() throws -> Int64
}

extension NotifyEventSource {
    /// Pages through the log; a source over SQL answers with one `max(sequence)`.
    public func notifyNewestSequence() throws -> Int64 {
        var newest: Int64 = 0
        while let last = try notifyEvents(afterSequence: newest, limit: 1000).last { newest = last.sequence }
        return newest
    }
}

/// The rules firing now, as the alert engine's state knows them (`AlertStore.active()` in
/// the daemon): what reminders and the state after an outage are made of. A protocol for the
/// same reason as `NotifyEventSource`.
public protocol FiringRuleSource: Sendable {
    /// Rules firing or flapping now, any severity, with whether each is acknowledged and
    /// whether it is silenced (by a silence or by maintenance) at `nowMillis`.
    func firingRules(nowMillis: Int64) throws -> [FiringRule]
}
