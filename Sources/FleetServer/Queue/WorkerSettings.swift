import EdgeCore

/// How the job workers run, and the health rules' thresholds. Every fleet-server process
/// runs a `WorkerPool` with these; tests shorten the intervals to seconds.
public struct WorkerSettings: Sendable, Hashable {
    /// Jobs one process works on at once.
    public var concurrency = 8
    /// How often an idle worker looks for due jobs (the longest a new job waits for a free worker).
    public var pollInterval: Duration = .seconds(1)
    /// A claimed job is this process's until its lease expires; the heartbeat renews it.
    public var leaseDuration: Duration = .seconds(60)
    /// How often a held job's lease is renewed; well under `leaseDuration`.
    public var heartbeatInterval: Duration = .seconds(15)
    /// How often the rescuer returns jobs whose lease expired (a crashed or stuck worker).
    public var rescueInterval: Duration = .seconds(15)
    /// Retry backoff: full jitter under base · 2^(attempt-1), at most `retryCap`.
    public var retryBase: Duration = .seconds(5)
    public var retryCap: Duration = .seconds(3_600)
    /// The longest `Retry-After` a receiver may impose.
    public var maxRetryAfter: Duration = .seconds(3_600)
    /// On shutdown, held jobs get this long to finish; the rest are released for others.
    public var shutdownGrace: Duration = .seconds(10)
    /// Completed and cancelled jobs are deleted this long after they finished (their unique
    /// key with them: the same key inserted later is a new job).
    public var finishedRetention: Duration = .seconds(7 * 86_400)
    /// Attempt records (the window statistics) are kept this long; at least `health.window`.
    public var statsRetention: Duration = .seconds(86_400)
    /// How often the retention duty runs (in one process at a time).
    public var retentionInterval: Duration = .seconds(600)
    public var health = HealthThresholds()

    public init() {}

    public var retryPolicy: RetryPolicy { RetryPolicy(base: retryBase, cap: retryCap, maxRetryAfter: maxRetryAfter) }

    /// The health rules' thresholds (docs/NOTIFICATIONS.md "Worker health"). A rule's
    /// unhealthy threshold is at least its degraded one.
    public struct HealthThresholds: Sendable, Hashable {
        /// The rolling window for error rate, rescues and latency percentiles.
        public var window: Duration = .seconds(300)
        /// Error rate is judged only once the window holds this many finished attempts.
        public var minAttempts = 10
        public var errorRateDegraded = 0.1
        public var errorRateUnhealthy = 0.5
        /// Age of the oldest job that is due and not claimed.
        public var oldestDueDegraded: Duration = .seconds(60)
        public var oldestDueUnhealthy: Duration = .seconds(600)
        /// Rescues (expired leases) within the window.
        public var rescuesDegraded = 1
        public var rescuesUnhealthy = 5

        public init() {}
    }

    /// Every setting that cannot work, each naming its key (as in the serve JSON's `worker`
    /// object) and what it must be; empty when all are fine.
    public func validationErrors() -> [String] {
        var errors: [String] = []
        let counts: [(String, Int, ClosedRange<Int>)] = [
            ("worker.concurrency", concurrency, 1...1_000),
            ("worker.health.minAttempts", health.minAttempts, 1...1_000_000),
            ("worker.health.rescuesDegraded", health.rescuesDegraded, 1...1_000_000),
            ("worker.health.rescuesUnhealthy", health.rescuesUnhealthy, 1...1_000_000),
        ]
        for (key, value, range) in counts where !range.contains(value) {
            errors.append("\(key) is \(value); it must be from \(range.lowerBound) to \(range.upperBound)")
        }
        let durations: [(String, Duration)] = [
            ("worker.pollIntervalSeconds", pollInterval), ("worker.leaseSeconds", leaseDuration),
            ("worker.heartbeatSeconds", heartbeatInterval), ("worker.rescueIntervalSeconds", rescueInterval),
            ("worker.retryBaseSeconds", retryBase), ("worker.retryCapSeconds", retryCap),
            ("worker.maxRetryAfterSeconds", maxRetryAfter), ("worker.shutdownGraceSeconds", shutdownGrace),
            ("worker.finishedRetentionSeconds", finishedRetention), ("worker.statsRetentionSeconds", statsRetention),
            ("worker.retentionIntervalSeconds", retentionInterval), ("worker.health.windowSeconds", health.window),
            ("worker.health.oldestDueDegradedSeconds", health.oldestDueDegraded),
            ("worker.health.oldestDueUnhealthySeconds", health.oldestDueUnhealthy),
        ]
        let year = Duration.seconds(366 * 86_400)
        for (key, value) in durations where value < .milliseconds(10) || value > year {
            errors.append("\(key) is \(value.secondsText); it must be from 0.01 to \(year.secondsText) (a year)")
        }
        if heartbeatInterval >= leaseDuration {
            errors.append("worker.heartbeatSeconds (\(heartbeatInterval.secondsText)) must be below worker.leaseSeconds (\(leaseDuration.secondsText)), or leases expire between heartbeats")
        }
        if retryBase > retryCap {
            errors.append("worker.retryBaseSeconds (\(retryBase.secondsText)) must be at most worker.retryCapSeconds (\(retryCap.secondsText))")
        }
        if statsRetention < health.window {
            errors.append("worker.statsRetentionSeconds (\(statsRetention.secondsText)) must be at least worker.health.windowSeconds (\(health.window.secondsText))")
        }
        for (key, value) in [("worker.health.errorRateDegraded", health.errorRateDegraded), ("worker.health.errorRateUnhealthy", health.errorRateUnhealthy)]
        where !(value > 0 && value <= 1) {
            errors.append("\(key) is \(value); it must be above 0 and at most 1")
        }
        if health.errorRateDegraded > health.errorRateUnhealthy {
            errors.append("worker.health.errorRateDegraded (\(health.errorRateDegraded)) must be at most worker.health.errorRateUnhealthy (\(health.errorRateUnhealthy))")
        }
        if health.oldestDueDegraded > health.oldestDueUnhealthy {
            errors.append("worker.health.oldestDueDegradedSeconds (\(health.oldestDueDegraded.secondsText)) must be at most worker.health.oldestDueUnhealthySeconds (\(health.oldestDueUnhealthy.secondsText))")
        }
        if health.rescuesDegraded > health.rescuesUnhealthy {
            errors.append("worker.health.rescuesDegraded (\(health.rescuesDegraded)) must be at most worker.health.rescuesUnhealthy (\(health.rescuesUnhealthy))")
        }
        return errors
    }
}

extension WorkerSettings {
    /// The `worker` object of `fleet-server serve --config`: any of the settings, durations
    /// in seconds; a key left out keeps its default.
    public struct File: Decodable, Sendable {
        public var concurrency: Int?
        public var pollIntervalSeconds: Double?
        public var leaseSeconds: Double?
        public var heartbeatSeconds: Double?
        public var rescueIntervalSeconds: Double?
        public var retryBaseSeconds: Double?
        public var retryCapSeconds: Double?
        public var maxRetryAfterSeconds: Double?
        public var shutdownGraceSeconds: Double?
        public var finishedRetentionSeconds: Double?
        public var statsRetentionSeconds: Double?
        public var retentionIntervalSeconds: Double?
        public var health: Health?

        public struct Health: Decodable, Sendable {
            public var windowSeconds: Double?
            public var minAttempts: Int?
            public var errorRateDegraded: Double?
            public var errorRateUnhealthy: Double?
            public var oldestDueDegradedSeconds: Double?
            public var oldestDueUnhealthySeconds: Double?
            public var rescuesDegraded: Int?
            public var rescuesUnhealthy: Int?
        }
    }

    /// Takes every key `file` has. A duration that is not a finite number of seconds
    /// becomes zero, which `validationErrors()` then names.
    public mutating func apply(_ file: File) {
        func set(_ target: inout Duration, _ seconds: Double?) {
            guard let seconds else { return }
            target = seconds.isFinite && seconds >= 0 ? .milliseconds(Int64(min(seconds, 1e12) * 1000)) : .zero
        }
        if let value = file.concurrency { concurrency = value }
        set(&pollInterval, file.pollIntervalSeconds)
        set(&leaseDuration, file.leaseSeconds)
        set(&heartbeatInterval, file.heartbeatSeconds)
        set(&rescueInterval, file.rescueIntervalSeconds)
        set(&retryBase, file.retryBaseSeconds)
        set(&retryCap, file.retryCapSeconds)
        set(&maxRetryAfter, file.maxRetryAfterSeconds)
        set(&shutdownGrace, file.shutdownGraceSeconds)
        set(&finishedRetention, file.finishedRetentionSeconds)
        set(&statsRetention, file.statsRetentionSeconds)
        set(&retentionInterval, file.retentionIntervalSeconds)
        guard let h = file.health else { return }
        set(&health.window, h.windowSeconds)
        set(&health.oldestDueDegraded, h.oldestDueDegradedSeconds)
        set(&health.oldestDueUnhealthy, h.oldestDueUnhealthySeconds)
        if let value = h.minAttempts { health.minAttempts = value }
        if let value = h.errorRateDegraded { health.errorRateDegraded = value }
        if let value = h.errorRateUnhealthy { health.errorRateUnhealthy = value }
        if let value = h.rescuesDegraded { health.rescuesDegraded = value }
        if let value = h.rescuesUnhealthy { health.rescuesUnhealthy = value }
    }
}
