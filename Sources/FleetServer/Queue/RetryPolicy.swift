import EdgeCore

/// When a failed attempt runs again: `EdgeCore.Backoff`'s rule (full jitter, exponential
/// ceiling, capped) counted by the job's attempt, and never earlier than what the receiver
/// asked for (`Retry-After`), itself capped so one answer cannot park a job for a week.
public struct RetryPolicy: Sendable, Hashable {
    public var base: Duration
    public var cap: Duration
    /// The longest `Retry-After` honoured.
    public var maxRetryAfter: Duration

    public init(base: Duration, cap: Duration, maxRetryAfter: Duration) {
        self.base = base
        self.cap = cap
        self.maxRetryAfter = maxRetryAfter
    }

    /// The jitter window's ceiling after `attempt` (1 for the first) failed: base · 2^(attempt-1), capped.
    public func ceiling(afterAttempt attempt: Int) -> Duration {
        Backoff(base: base, cap: cap, failures: attempt - 1).ceiling
    }

    /// The wait before the next attempt after `attempt` failed.
    public func delay(afterAttempt attempt: Int, notBeforeSeconds: Double?,
                      using random: inout some RandomNumberGenerator) -> Duration {
        var backoff = Backoff(base: base, cap: cap, failures: attempt - 1)
        let jittered = backoff.nextDelay(using: &random)
        guard let notBeforeSeconds, notBeforeSeconds.isFinite, notBeforeSeconds > 0 else { return jittered }
        let asked = notBeforeSeconds >= maxRetryAfter.inSeconds ? maxRetryAfter : .milliseconds(Int64((notBeforeSeconds * 1000).rounded(.up)))
        return max(jittered, asked)
    }
}
