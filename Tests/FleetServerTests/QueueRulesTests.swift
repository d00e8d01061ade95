import EdgeCore
import Foundation
@testable import FleetServer
import Testing
import Wire

/// The queue's pure rules: retry spacing, what an attempt's result makes of a job, the
/// health rules and the settings check.
struct QueueRulesTests {
    /// A seeded generator (SplitMix64): a test can replay exactly what the queue drew.
    struct SeededRandom: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    let policy = RetryPolicy(base: .seconds(1), cap: .seconds(8), maxRetryAfter: .seconds(30))

    func job(attempt: Int, of max: Int = 5) -> ClaimedJob {
        ClaimedJob(id: 7, kind: "notify", receiver: "ops", args: "{}", attempt: attempt, maxAttempts: max, idempotencyKey: "k")
    }

    /// The jitter EdgeCore's Backoff draws after `attempt` failed, from a copy of `random`.
    func jitter(afterAttempt attempt: Int, _ random: SeededRandom) -> Duration {
        var copy = random
        var backoff = Backoff(base: policy.base, cap: policy.cap, failures: attempt - 1)
        return backoff.nextDelay(using: &copy)
    }

    @Test func retriesBackOffUnderADoublingCappedCeiling() {
        #expect((1...6).map { policy.ceiling(afterAttempt: $0) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
        for seed in UInt64(1)...200 {
            for attempt in 1...6 {
                var random = SeededRandom(state: seed)
                let expected = jitter(afterAttempt: attempt, random)
                let delay = policy.delay(afterAttempt: attempt, notBeforeSeconds: nil, using: &random)
                #expect(delay == expected)
                #expect(delay >= .zero && delay <= policy.ceiling(afterAttempt: attempt))
            }
        }
    }

    @Test func aRetryAfterIsAFloorAndIsItselfCapped() {
        for seed in UInt64(1)...200 {
            var random = SeededRandom(state: seed)
            let drawn = jitter(afterAttempt: 4, random)
            #expect(policy.delay(afterAttempt: 4, notBeforeSeconds: 2.5, using: &random) == max(drawn, .milliseconds(2_500)))
        }
        var random = SeededRandom(state: 9)
        // Attempt 1's window is at most 1 s: the Retry-After decides.
        #expect(policy.delay(afterAttempt: 1, notBeforeSeconds: 2.5, using: &random) == .milliseconds(2_500))
        #expect(policy.delay(afterAttempt: 1, notBeforeSeconds: 86_400, using: &random) == .seconds(30))
        #expect(policy.delay(afterAttempt: 1, notBeforeSeconds: .infinity, using: &random) <= .seconds(1))
        #expect(policy.delay(afterAttempt: 1, notBeforeSeconds: -3, using: &random) <= .seconds(1))
    }

    @Test func anAttemptsResultSettlesTheJob() {
        var random = SeededRandom(state: 3)
        let completed = Settlement(job(attempt: 1), .completed, policy: policy, using: &random)
        #expect(completed == Settlement(state: .completed, outcome: .completed, delay: nil, error: nil))
        let retried = Settlement(job(attempt: 2), .retry(error: "HTTP 500", notBeforeSeconds: 3), policy: policy, using: &random)
        #expect(retried == Settlement(state: .retryable, outcome: .retried, delay: .seconds(3), error: "HTTP 500"))
        let exhausted = Settlement(job(attempt: 5), .retry(error: "HTTP 500", notBeforeSeconds: nil), policy: policy, using: &random)
        #expect(exhausted == Settlement(state: .dead, outcome: .dead, delay: nil, error: "HTTP 500 (attempt 5 of 5: no attempts left)"))
        let refused = Settlement(job(attempt: 1), .dead(error: "HTTP 404"), policy: policy, using: &random)
        #expect(refused == Settlement(state: .dead, outcome: .dead, delay: nil, error: "HTTP 404"))
    }

    // MARK: Health rules

    var thresholds: WorkerSettings.HealthThresholds {
        var thresholds = WorkerSettings.HealthThresholds()
        thresholds.window = .seconds(300)
        thresholds.minAttempts = 10
        thresholds.errorRateDegraded = 0.1
        thresholds.errorRateUnhealthy = 0.5
        thresholds.oldestDueDegraded = .seconds(60)
        thresholds.oldestDueUnhealthy = .seconds(600)
        thresholds.rescuesDegraded = 1
        thresholds.rescuesUnhealthy = 5
        return thresholds
    }

    func health(completed: Int = 0, failed: Int = 0, rescues: Int = 0, oldestDue: Double? = nil) -> WorkerHealth {
        var snapshot = QueueSnapshot()
        snapshot.window = .init(completed: completed, failed: failed, rescues: rescues)
        snapshot.oldestDueSeconds = oldestDue
        return WorkerHealth(snapshot, thresholds: thresholds)
    }

    @Test func errorRateDegradesThenMakesUnhealthyOnceTheWindowHoldsEnoughAttempts() {
        #expect(health(completed: 10) == WorkerHealth(status: .healthy, reasons: []))
        #expect(health(completed: 9, failed: 0) == WorkerHealth(status: .healthy, reasons: []))
        // 5 of 9 failed: too few attempts to judge.
        #expect(health(completed: 4, failed: 5).status == .healthy)
        #expect(health(completed: 9, failed: 1) == WorkerHealth(status: .degraded, reasons: ["1 of 10 attempts failed in the last 300 s"]))
        #expect(health(completed: 5, failed: 5) == WorkerHealth(status: .unhealthy, reasons: ["5 of 10 attempts failed in the last 300 s"]))
        #expect(health(completed: 91, failed: 9).status == .healthy)
    }

    @Test func theOldestDueJobsAgeDegradesThenMakesUnhealthy() {
        #expect(health(oldestDue: 59.9).status == .healthy)
        #expect(health(oldestDue: 60) == WorkerHealth(status: .degraded, reasons: ["the oldest due job has waited 60 s for a worker"]))
        #expect(health(oldestDue: 600.5) == WorkerHealth(status: .unhealthy, reasons: ["the oldest due job has waited 600 s for a worker"]))
        #expect(health(oldestDue: nil).status == .healthy)
    }

    @Test func rescuesDegradeThenMakeUnhealthy() {
        #expect(health(rescues: 0).status == .healthy)
        #expect(health(rescues: 1) == WorkerHealth(status: .degraded, reasons: ["1 jobs were rescued from expired leases in the last 300 s"]))
        #expect(health(rescues: 5).status == .unhealthy)
    }

    @Test func anUnreachableDatabaseIsUnhealthyAndTheWorstRuleWins() {
        #expect(WorkerHealth(nil, thresholds: thresholds) == WorkerHealth(status: .unhealthy, reasons: ["the database does not answer"]))
        let both = health(completed: 9, failed: 1, rescues: 7)
        #expect(both.status == .unhealthy)
        #expect(both.reasons == ["1 of 10 attempts failed in the last 300 s", "7 jobs were rescued from expired leases in the last 300 s"])
    }

    // MARK: Settings

    @Test func theDefaultsAreValidAndEveryBadKeyIsNamed() throws {
        #expect(WorkerSettings().validationErrors() == [])
        var settings = WorkerSettings()
        settings.apply(try JSONDecoder().decode(WorkerSettings.File.self, from: Data("""
            {"concurrency": 0, "leaseSeconds": 10, "heartbeatSeconds": 10, "pollIntervalSeconds": -1, "retryBaseSeconds": 100,
             "retryCapSeconds": 50, "health": {"windowSeconds": 90000, "errorRateDegraded": 0.6, "errorRateUnhealthy": 0.5,
             "rescuesDegraded": 3, "rescuesUnhealthy": 2}}
            """.utf8)))
        #expect(settings.validationErrors() == [
            "worker.concurrency is 0; it must be from 1 to 1000",
            "worker.pollIntervalSeconds is 0; it must be from 0.01 to 31622400 (a year)",
            "worker.heartbeatSeconds (10) must be below worker.leaseSeconds (10), or leases expire between heartbeats",
            "worker.retryBaseSeconds (100) must be at most worker.retryCapSeconds (50)",
            "worker.statsRetentionSeconds (86400) must be at least worker.health.windowSeconds (90000)",
            "worker.health.errorRateDegraded (0.6) must be at most worker.health.errorRateUnhealthy (0.5)",
            "worker.health.rescuesDegraded (3) must be at most worker.health.rescuesUnhealthy (2)",
        ])
        var configuration = FleetServerConfiguration(tls: nil, database: .init(host: "h", username: "u", password: nil, database: nil, tls: .disable))
        configuration.worker = settings
        #expect(configuration.validationErrors() == settings.validationErrors())
    }
}
