import NotifyDelivery
import Wire

/// One target's health, for `edge-agent notify status`, `edge-agent status` and the health
/// report's per-target counts, so the fleet server sees a device whose notifications fail.
public struct NotifyStatus: Sendable, Hashable {
    public var target: String
    public var deliveredThrough: Int64
    public var lastDeliveredMillis: Int64?
    public var messagesSent: Int
    public var eventsSent: Int
    public var retries: Int
    public var openDeadLetters: Int
    /// Events after the cursor, before the target's filter (what is not yet dealt with).
    public var pending: Int
    /// How long the oldest of them has waited; nil with nothing pending.
    public var oldestPendingAge: Duration?
    public var lastError: String?
    public var nextAttemptMillis: Int64?

    /// Reads the ledger and the event source; the same figures in the daemon and the CLI.
    public static func read(ledger: NotifyLedger, target: String, events: any NotifyEventSource,
                            nowMillis: Int64) throws -> NotifyStatus {
        let cursor = try ledger.cursor(target: target)
        let pending = try events.notifyEventBacklog(afterSequence: cursor.deliveredThrough)
        let oldest = pending > 0 ? try events.notifyEvents(afterSequence: cursor.deliveredThrough, limit: 1).first : nil
        return NotifyStatus(
            target: target, deliveredThrough: cursor.deliveredThrough, lastDeliveredMillis: cursor.lastDeliveredMillis,
            messagesSent: cursor.messagesSent, eventsSent: cursor.eventsSent, retries: cursor.retries,
            openDeadLetters: try ledger.openDeadLetters(target: target).count, pending: pending,
            oldestPendingAge: oldest.map { .milliseconds(max(0, nowMillis - $0.timestampMillis)) },
            lastError: cursor.lastError, nextAttemptMillis: cursor.nextAttemptMillis)
    }
}
