import EdgeCore
import Wire

/// The fleet-wide queue numbers the health rules judge, read by `JobQueue.snapshot`.
public struct QueueSnapshot: Sendable, Hashable, Codable {
    /// Finished attempts and rescues within the rolling window, every process's.
    public struct Window: Sendable, Hashable, Codable {
        public var completed = 0
        /// Attempts that failed (retried or dead).
        public var failed = 0
        public var rescues = 0
        /// Latency of every finished attempt (delivered or failed: a receiver timing out is
        /// slow too), in milliseconds; nil with no attempts.
        public var latencyP50Millis: Double?
        public var latencyP95Millis: Double?

        public init(completed: Int = 0, failed: Int = 0, rescues: Int = 0, latencyP50Millis: Double? = nil, latencyP95Millis: Double? = nil) {
            self.completed = completed
            self.failed = failed
            self.rescues = rescues
            self.latencyP50Millis = latencyP50Millis
            self.latencyP95Millis = latencyP95Millis
        }

        public var attempts: Int { completed + failed }
        /// Failed over finished attempts; nil with none.
        public var errorRate: Double? { attempts == 0 ? nil : Double(failed) / Double(attempts) }
    }

    /// All-time counts per receiver (`job_counters`).
    public struct ReceiverCounters: Sendable, Hashable, Codable {
        public var receiver: String
        /// Delivered.
        public var sent: Int64
        /// Attempts that failed (each retried or dead one).
        public var failed: Int64
        public var retried: Int64
        public var dead: Int64
        public var rescued: Int64
    }

    public var depth: [JobState: Int] = [:]
    /// Seconds since the oldest job that is due and unclaimed fell due; nil when none is.
    public var oldestDueSeconds: Double?
    public var window = Window()
    public var receivers: [ReceiverCounters] = []

    public init() {}
}

/// Worker health: healthy, degraded or unhealthy with one reason per broken rule, from a
/// snapshot (or from its absence: the database did not answer). The status is the worst
/// any rule gives. The rules (thresholds in `WorkerSettings.HealthThresholds`):
///
/// 1. The database does not answer → unhealthy.
/// 2. Error rate (failed ÷ finished attempts in the window), judged once the window holds
///    `minAttempts`: at least `errorRateUnhealthy` → unhealthy, at least `errorRateDegraded` → degraded.
/// 3. Oldest due job unclaimed for at least `oldestDueUnhealthy` → unhealthy, `oldestDueDegraded` → degraded.
/// 4. Rescues in the window: at least `rescuesUnhealthy` → unhealthy, `rescuesDegraded` → degraded.
public struct WorkerHealth: Sendable, Hashable {
    public var status: HealthReport.Status
    public var reasons: [String]

    public init(_ snapshot: QueueSnapshot?, thresholds: WorkerSettings.HealthThresholds) {
        guard let snapshot else {
            status = .unhealthy
            reasons = ["the database does not answer"]
            return
        }
        var findings: [(HealthReport.Status, String)] = []
        func judge(_ value: Double, unhealthy: Double, degraded: Double, _ reason: String) {
            if value >= unhealthy { findings.append((.unhealthy, reason)) } else if value >= degraded { findings.append((.degraded, reason)) }
        }
        let window = snapshot.window
        let windowText = thresholds.window.secondsText
        if window.attempts >= thresholds.minAttempts, let rate = window.errorRate {
            judge(rate, unhealthy: thresholds.errorRateUnhealthy, degraded: thresholds.errorRateDegraded,
                  "\(window.failed) of \(window.attempts) attempts failed in the last \(windowText) s")
        }
        if let age = snapshot.oldestDueSeconds {
            judge(age, unhealthy: thresholds.oldestDueUnhealthy.inSeconds, degraded: thresholds.oldestDueDegraded.inSeconds,
                  "the oldest due job has waited \(Int(age)) s for a worker")
        }
        judge(Double(window.rescues), unhealthy: Double(thresholds.rescuesUnhealthy), degraded: Double(thresholds.rescuesDegraded),
              "\(window.rescues) jobs were rescued from expired leases in the last \(windowText) s")
        status = findings.contains { $0.0 == .unhealthy } ? .unhealthy : findings.isEmpty ? .healthy : .degraded
        reasons = findings.map(\.1)
    }
}
