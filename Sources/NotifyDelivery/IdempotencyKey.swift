import Wire

/// The stable key a receiver can deduplicate on. Delivery is at least once: a crash between
/// the service's answer and the ledger's commit sends the same message again, and it then
/// carries the same key. Built from the target and event sequences only, never from the
/// time or the attempt, so every retry of a message carries the same key.
public enum IdempotencyKey {
    /// One event for one target.
    public static func event(target: String, sequence: Int64) -> String {
        "reef-edge/\(target)/\(sequence)"
    }

    /// A grouped message: the key of its event range. Stable only if a retry sends the same
    /// range; the ledger's in-flight range (`NotifyLedger.beginAttempt`) makes it so.
    public static func group(target: String, range: SequenceRange) -> String {
        range.first == range.last ? event(target: target, sequence: range.first)
            : "reef-edge/\(target)/\(range.first)-\(range.last)"
    }
}
