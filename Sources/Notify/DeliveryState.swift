import EdgeCore
import NotifyDelivery
import Wire

/// One target's delivery pacing, as a value: the ledger persists what it decides, the
/// pipeline sleeps until `nextAttemptMillis`. Pure and seeded, so a table of outcomes replays
/// to the same waits in tests.
///
/// The rules are Sync's (docs/SYNC.md), narrowed to what notification services answer:
/// - accepted: the cursor moves past the message; the backoff starts over.
/// - network error, timeout, 408, 429, 5xx: the same message again after a full-jitter
///   backoff, never earlier than the service's `Retry-After` (capped, so a misbehaving proxy
///   cannot silence a target for a week).
/// - SMTP: 2yz delivered, 4yz retried, 5yz dead-lettered (see `DeliveryOutcome.smtp`).
/// - any other answer (400, 401, 403, 404, 413, 422, a 3xx Notify does not follow): retrying
///   cannot help, so the message is dead-lettered with the service's reason and the cursor
///   moves past it. Dead letters in a row are still spaced by the backoff: a service that
///   wrongly refuses everything (a revoked token) cannot dead-letter a day's alerts in a minute.
public struct DeliveryState: Sendable, Hashable {
    public enum Decision: Sendable, Hashable {
        case delivered(through: Int64)
        case retry(atMillis: Int64, reason: String)
        case deadLetter(range: SequenceRange, status: Int, reason: String, nextAttemptMillis: Int64)
    }

    public private(set) var backoff: Backoff
    /// When the next attempt may start; nil when it may start now.
    public private(set) var nextAttemptMillis: Int64?
    /// The last failure, for `edge-agent notify status`; cleared by a delivery.
    public private(set) var lastError: String?
    /// The longest `Retry-After` honoured.
    public let retryAfterCap: Duration

    public init(backoff: Backoff = Backoff(base: .seconds(2), cap: .seconds(600)), retryAfterCap: Duration = .seconds(3600)) {
        self.backoff = backoff
        self.retryAfterCap = retryAfterCap
    }

    /// Whether an attempt may start at `nowMillis`.
    public func mayAttempt(nowMillis: Int64) -> Bool {
        nextAttemptMillis.map { nowMillis >= $0 } ?? true
    }

    /// Records the outcome of sending the events `range` and says what the ledger must do.
    public mutating func record(_ outcome: DeliveryOutcome, for range: SequenceRange, nowMillis: Int64,
                                random: inout some RandomNumberGenerator) -> Decision {
        switch outcome.verdict(nowMillis: nowMillis, retryAfterCap: retryAfterCap) {
        case .delivered:
            return delivered(range)
        case .retry(let reason, let notBefore):
            return retry(reason, retryAfter: notBefore, nowMillis: nowMillis, random: &random)
        case .permanent(let status, let reason, let text):
            let next = nowMillis + backoff.nextDelay(using: &random).saturatingMillis
            nextAttemptMillis = next
            lastError = "dead-lettered \(range) (\(text))"
            return .deadLetter(range: range, status: status, reason: reason, nextAttemptMillis: next)
        }
    }

    private mutating func delivered(_ range: SequenceRange) -> Decision {
        backoff.reset()
        nextAttemptMillis = nil
        lastError = nil
        return .delivered(through: range.last)
    }

    private mutating func retry(_ reason: String, retryAfter: Duration?, nowMillis: Int64,
                                random: inout some RandomNumberGenerator) -> Decision {
        let jittered = backoff.nextDelay(using: &random)
        let wait = max(jittered, retryAfter ?? .zero)
        let next = nowMillis + wait.saturatingMillis
        nextAttemptMillis = next
        lastError = reason
        return .retry(atMillis: next, reason: reason)
    }
}
