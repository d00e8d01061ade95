import EdgeTesting
import FleetServer
import FleetServerTesting
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing
import Wire

/// The job queue against real PostgreSQL: unique keys, claims shared by two pools, the
/// lease fence and the rescuer, retry spacing, dead jobs and the admin operations, and the
/// health rules on real numbers.
@Suite(.serialized) struct QueueTests {
    // MARK: Inserting

    @Test func theSameUniqueKeyInsertedThreeTimesIsOneJob() async throws {
        try await QueueDatabase.with { database in
            let job = NewJob(kind: "notify", receiver: "ops", args: #"{"event":1}"#, uniqueKey: "event-1/route-a")
            var inserted: [Int] = []
            for _ in 0..<3 {
                inserted.append(try await database.client.withTransaction(logger: database.logger) { connection in
                    try await JobQueue.insert([job], on: connection, logger: database.logger)
                })
            }
            #expect(inserted == [1, 0, 0])
            // Rolled back with the caller's transaction: the outbox holds only committed work.
            await #expect(throws: (any Error).self) {
                try await database.client.withTransaction(logger: database.logger) { connection in
                    try await JobQueue.insert([NewJob(kind: "notify", receiver: "ops", args: "{}", uniqueKey: "event-2")], on: connection, logger: database.logger)
                    throw CancellationError()
                }
            }
            #expect(try await database.rows("SELECT unique_key || ' ' || state || ' ' || args::text FROM jobs") == [#"event-1/route-a available {"event": 1}"#])
        }
    }

    // MARK: Claiming

    @Test func twoPoolsShareAThousandJobsEachHandledExactlyOnce() async throws {
        try await QueueDatabase.with { database in
            let jobs = (1...1_000).map { NewJob(kind: "count", receiver: "ops", args: #"{"n":\#($0)}"#, uniqueKey: "job-\($0)") }
            #expect(try await database.queue.insert(jobs) == 1_000)
            let handled = Mutex<[Int64: [String]]>([:])
            // Leases that cannot expire here: a rescue would (rightly) handle a job twice.
            var settings = QueueDatabase.shortSettings
            settings.leaseDuration = .seconds(60)
            settings.heartbeatInterval = .seconds(10)
            let pools = try ["a", "b"].map { name in
                try database.pool(name: name, handlers: [TestHandler(kind: "count") { job in
                    try? await Task.sleep(for: .milliseconds(2))
                    handled.withLock { $0[job.id, default: []].append(name) }
                    return .completed
                }], settings: settings)
            }
            try await QueueDatabase.running(pools) {
                try await database.waitUntil("1000 jobs completed") { try await database.count("state = 'completed'") == 1_000 }
            }
            let byJob = handled.withLock { $0 }
            #expect(byJob.count == 1_000)
            #expect(byJob.values.allSatisfy { $0.count == 1 })
            let byPool = Dictionary(grouping: byJob.values.map { $0[0] }, by: { $0 }).mapValues(\.count)
            #expect(byPool["a", default: 0] > 0 && byPool["b", default: 0] > 0)
            #expect(byPool.values.reduce(0, +) == 1_000)
            #expect(try await database.rows("SELECT receiver || ' ' || sent || ' ' || failed || ' ' || rescued FROM job_counters") == ["ops 1000 0 0"])
            #expect(try await database.rows("SELECT outcome || ' ' || count(*) FROM job_attempts GROUP BY outcome") == ["completed 1000"])
        }
    }

    @Test func anExpiredLeaseIsRescuedCountedAndTheOldHoldersFinishIsRefused() async throws {
        try await QueueDatabase.with { database in
            try await database.queue.insert([NewJob(kind: "count", receiver: "ops", args: "{}", uniqueKey: "stuck")])
            // A worker claims the job, then hangs (or is killed): it never renews the lease.
            let stuck = try #require(try await database.queue.claim(5, owner: "hung-worker", lease: .milliseconds(300)).first)
            #expect(stuck.attempt == 1)
            #expect(try await database.queue.claim(5, owner: "other", lease: .seconds(30)).isEmpty)
            let deliveries = Mutex<[Int]>([])
            let pool = try database.pool(name: "rescuer", handlers: [TestHandler(kind: "count") { job in
                deliveries.withLock { $0.append(job.attempt) }
                return .completed
            }])
            try await QueueDatabase.running([pool]) {
                try await database.waitUntil("the rescued job completed") { try await database.count("state = 'completed'") == 1 }
            }
            #expect(deliveries.withLock { $0 } == [2])
            // The hung worker wakes up and reports: the fence refuses it.
            #expect(try await database.queue.finish(stuck, owner: "hung-worker", result: .dead(error: "late"), latency: .seconds(1),
                                                    policy: WorkerSettings().retryPolicy) == nil)
            #expect(try await database.queue.heartbeat(stuck, owner: "hung-worker", lease: .seconds(30)) == false)
            #expect(try await database.rows("SELECT state || ' ' || attempt || ' ' || last_error FROM jobs")
                    == ["completed 2 lease expired on hung-worker during attempt 1"])
            #expect(try await database.rows("SELECT receiver || ' ' || sent || ' ' || rescued FROM job_counters") == ["ops 1 1"])
            #expect(try await database.rows("SELECT outcome FROM job_attempts ORDER BY id") == ["rescued", "completed"])
        }
    }

    @Test func aHungAttemptStopsRenewingItsLeaseSoTheJobIsRescuedAndDoneAgain() async throws {
        try await QueueDatabase.with { database in
            try await database.queue.insert([NewJob(kind: "count", receiver: "ops", args: "{}", uniqueKey: "hangs")])
            var settings = QueueDatabase.shortSettings
            settings.attemptTimeout = .milliseconds(500)
            let attempts = Mutex<[Int]>([])
            let pool = try database.pool(name: "w", handlers: [TestHandler(kind: "count") { job in
                attempts.withLock { $0.append(job.attempt) }
                // The first attempt hangs well past its lease (1 s) and the attempt timeout.
                if job.attempt == 1 { try? await Task.sleep(for: .seconds(4)) }
                return .completed
            }], settings: settings)
            try await QueueDatabase.running([pool]) {
                try await database.waitUntil("the job completed") { try await database.count("state = 'completed'") == 1 }
                // The hung attempt returns at 4 s; its result must change nothing.
                try await Task.sleep(for: .seconds(3))
            }
            #expect(attempts.withLock { $0 } == [1, 2])
            #expect(try await database.rows("SELECT state || ' ' || attempt FROM jobs") == ["completed 2"])
            #expect(try await database.rows("SELECT outcome FROM job_attempts ORDER BY id") == ["rescued", "completed"])
            #expect(try await database.rows("SELECT sent || ' ' || rescued FROM job_counters") == ["1 1"])
        }
    }

    // MARK: Retrying

    @Test func retriesAreSpacedByThePolicyAndRetryAfterIsAFloor() async throws {
        try await QueueDatabase.with { database in
            let policy = RetryPolicy(base: .seconds(1), cap: .seconds(60), maxRetryAfter: .seconds(30))
            try await database.queue.insert([NewJob(kind: "notify", receiver: "ops", args: "{}", uniqueKey: "flaky", maxAttempts: 4)])
            // 500, 429 with Retry-After: 7, a timeout, then dead: the attempts left are spent.
            let results: [JobResult] = [
                .retry(error: "HTTP 500", notBeforeSeconds: nil), .retry(error: "HTTP 429", notBeforeSeconds: 7),
                .retry(error: "timed out after 10 s", notBeforeSeconds: nil), .retry(error: "HTTP 500", notBeforeSeconds: nil),
            ]
            var gaps: [Double] = []
            for result in results {
                // Time passes: the job is due again.
                try await database.client.query("UPDATE jobs SET run_at = now()", logger: database.logger)
                let job = try #require(try await database.queue.claim(1, owner: "w", lease: .seconds(30)).first)
                try #require(try await database.queue.finish(job, owner: "w", result: result, latency: .milliseconds(5), policy: policy) != nil)
                // run_at minus the failure's time: both PostgreSQL's now() in one statement, so exactly the wait chosen.
                gaps.append(try #require(try await database.client.query(
                    "SELECT EXTRACT(EPOCH FROM run_at - (errors->0->>'at')::timestamptz)::float8 FROM jobs", logger: database.logger)
                    .decode(Double.self).first { _ in true }))
            }
            #expect(gaps[0] >= 0 && gaps[0] <= 1)
            #expect(gaps[1] == 7)
            #expect(gaps[2] >= 0 && gaps[2] <= 4)
            #expect(try await database.rows("SELECT state || ' ' || attempt || ' ' || last_error FROM jobs")
                    == ["dead 4 HTTP 500 (attempt 4 of 4: no attempts left)"])
            #expect(try await database.rows("SELECT e->>'attempt' || ' ' || (e->>'error') FROM jobs, jsonb_array_elements(errors) e") == [
                "4 HTTP 500 (attempt 4 of 4: no attempts left)", "3 timed out after 10 s", "2 HTTP 429", "1 HTTP 500",
            ])
            #expect(try await database.rows("SELECT sent || ' ' || failed || ' ' || retried || ' ' || dead FROM job_counters") == ["0 4 3 1"])
        }
    }

    @Test func aDeadJobKeepsItsErrorAndAnAdminRetryDeliversIt() async throws {
        try await QueueDatabase.with { database in
            try await database.queue.insert([NewJob(kind: "notify", receiver: "ops", args: "{}", uniqueKey: "refused", maxAttempts: 3)])
            let answers = Mutex<[JobResult]>([.dead(error: "HTTP 404 from https://hooks.example/x: not found"), .completed])
            let pool = try database.pool(name: "w", handlers: [TestHandler(kind: "notify") { _ in answers.withLock { $0.removeFirst() } }])
            try await QueueDatabase.running([pool]) {
                try await database.waitUntil("the job is dead") { try await database.count("state = 'dead'") == 1 }
                let dead = try await database.queue.jobs(state: .dead, receiver: "ops", limit: 10)
                #expect(dead.map(\.lastError) == ["HTTP 404 from https://hooks.example/x: not found"])
                #expect(dead.map(\.attempt) == [1])
                #expect(try await database.queue.retryDead(receiver: "nobody") == 0)
                try await database.queue.retry(id: dead[0].id)
                try await database.waitUntil("the retried job completed") { try await database.count("state = 'completed'") == 1 }
                await #expect(throws: JobAdminRefusal.wrongState(id: dead[0].id, state: .completed, holder: nil)) {
                    try await database.queue.retry(id: dead[0].id)
                }
            }
            #expect(try await database.rows("SELECT state || ' ' || attempt || ' ' || max_attempts FROM jobs") == ["completed 2 3"])
            #expect(try await database.rows("SELECT sent || ' ' || failed || ' ' || dead FROM job_counters") == ["1 1 1"])
        }
    }

    @Test func anAttemptPastMaxAttemptsIsDeadAndRetryingAllOfAReceiverGivesOneMore() async throws {
        try await QueueDatabase.with { database in
            try await database.queue.insert((1...3).map { NewJob(kind: "notify", receiver: "pager", args: "{}", uniqueKey: "p\($0)", maxAttempts: 1) })
            try await database.queue.insert([NewJob(kind: "notify", receiver: "mail", args: "{}", uniqueKey: "m1", maxAttempts: 1)])
            for job in try await database.queue.claim(10, owner: "w", lease: .seconds(30)) {
                try await database.queue.finish(job, owner: "w", result: .retry(error: "HTTP 503", notBeforeSeconds: nil),
                                                latency: .milliseconds(1), policy: WorkerSettings().retryPolicy)
            }
            #expect(try await database.count("state = 'dead'") == 4)
            #expect(try await database.queue.retryDead(receiver: "pager") == 3)
            #expect(try await database.rows("SELECT receiver || ' ' || state || ' ' || max_attempts FROM jobs ORDER BY id")
                    == ["pager available 2", "pager available 2", "pager available 2", "mail dead 1"])
        }
    }

    @Test func cancelTakesWaitingJobsAndRefusesRunningAndFinishedOnes() async throws {
        try await QueueDatabase.with { database in
            try await database.queue.insert([
                NewJob(kind: "notify", receiver: "ops", args: "{}", uniqueKey: "a"),
                NewJob(kind: "notify", receiver: "ops", args: "{}", uniqueKey: "b", delaySeconds: 3_600),
            ])
            let ids = try await database.queue.jobs(state: nil, receiver: nil, limit: 10).map(\.id).sorted()
            let running = try #require(try await database.queue.claim(1, owner: "w-1", lease: .seconds(30)).first)
            #expect(running.id == ids[0])
            await #expect(throws: JobAdminRefusal.wrongState(id: ids[0], state: .running, holder: "w-1")) {
                try await database.queue.cancel(id: ids[0])
            }
            try await database.queue.cancel(id: ids[1])
            await #expect(throws: JobAdminRefusal.wrongState(id: ids[1], state: .cancelled, holder: nil)) {
                try await database.queue.cancel(id: ids[1])
            }
            await #expect(throws: JobAdminRefusal.notFound(id: 999)) { try await database.queue.cancel(id: 999) }
            #expect(try await database.rows("SELECT state FROM jobs ORDER BY id") == ["running", "cancelled"])
            // A cancelled job is never claimed; a retried one is.
            #expect(try await database.queue.claim(5, owner: "w-2", lease: .seconds(30)).isEmpty)
            try await database.queue.retry(id: ids[1])
            #expect(try await database.queue.claim(5, owner: "w-2", lease: .seconds(30)).map(\.id) == [ids[1]])
        }
    }

    // MARK: Health

    @Test func errorRateMakesTheWorkerDegradedThenUnhealthyAndTheWindowHeals() async throws {
        try await QueueDatabase.with { database in
            var thresholds = WorkerSettings.HealthThresholds()
            thresholds.window = .seconds(3)
            thresholds.minAttempts = 4
            thresholds.errorRateDegraded = 0.25
            thresholds.errorRateUnhealthy = 0.5
            func health() async throws -> WorkerHealth {
                WorkerHealth(try await database.queue.snapshot(window: thresholds.window), thresholds: thresholds)
            }
            #expect(try await health() == WorkerHealth(status: .healthy, reasons: []))
            try await database.attempts([.completed, .completed, .completed, .retry(error: "HTTP 500", notBeforeSeconds: nil)])
            #expect(try await health() == WorkerHealth(status: .degraded, reasons: ["1 of 4 attempts failed in the last 3 s"]))
            try await database.attempts([.dead(error: "HTTP 400"), .dead(error: "HTTP 400"), .dead(error: "HTTP 400")])
            #expect(try await health() == WorkerHealth(status: .unhealthy, reasons: ["4 of 7 attempts failed in the last 3 s"]))
            let snapshot = try await database.queue.snapshot(window: thresholds.window)
            #expect(snapshot.window.latencyP50Millis == 5)
            #expect(snapshot.receivers.map { "\($0.receiver) \($0.sent) \($0.failed) \($0.retried) \($0.dead)" } == ["ops 3 4 1 3"])
            try await Task.sleep(for: .milliseconds(3_200))
            #expect(try await health() == WorkerHealth(status: .healthy, reasons: []))
        }
    }

    @Test func anOldDueJobAndRescuesMakeTheWorkerDegradedThenUnhealthyAndBack() async throws {
        try await QueueDatabase.with { database in
            var thresholds = WorkerSettings.HealthThresholds()
            thresholds.window = .seconds(3)
            thresholds.oldestDueDegraded = .seconds(1)
            thresholds.oldestDueUnhealthy = .seconds(2)
            thresholds.rescuesDegraded = 1
            thresholds.rescuesUnhealthy = 2
            func health() async throws -> HealthReport.Status {
                WorkerHealth(try await database.queue.snapshot(window: thresholds.window), thresholds: thresholds).status
            }
            try await database.queue.insert([NewJob(kind: "notify", receiver: "ops", args: "{}", uniqueKey: "waiting")])
            #expect(try await health() == .healthy)
            try await Task.sleep(for: .milliseconds(1_100))
            #expect(try await health() == .degraded)
            try await Task.sleep(for: .milliseconds(1_000))
            #expect(try await health() == .unhealthy)
            // Claimed under a lease that then expires: no longer due; the rescue counts.
            _ = try await database.queue.claim(1, owner: "gone", lease: .milliseconds(100))
            #expect(try await health() == .healthy)
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await database.queue.rescue(by: "rescuer").map(\.holder) == ["gone"])
            #expect(try await health() == .degraded)
            _ = try await database.queue.claim(1, owner: "gone-again", lease: .milliseconds(100))
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await database.queue.rescue(by: "rescuer").count == 1)
            #expect(try await health() == .unhealthy)
            let job = try #require(try await database.queue.claim(1, owner: "w", lease: .seconds(30)).first)
            try await database.queue.finish(job, owner: "w", result: .completed, latency: .milliseconds(1), policy: WorkerSettings().retryPolicy)
            try await Task.sleep(for: .milliseconds(3_000))
            #expect(try await health() == .healthy)
        }
    }
}

/// A handler for tests: does what `body` says.
struct TestHandler: JobHandler {
    let kind: String
    let body: @Sendable (ClaimedJob) async -> JobResult
    func perform(_ job: ClaimedJob) async -> JobResult { await body(job) }
}

/// A migrated throwaway database with a running client.
struct QueueDatabase: Sendable {
    let cluster: PostgresCluster
    let client: PostgresClient
    let logger: Logger
    var queue: JobQueue { JobQueue(client: client, logger: logger) }

    static func with(_ body: (QueueDatabase) async throws -> Void) async throws {
        let cluster = try await PostgresCluster.start()
        var logger = Logger(label: "queue-tests")
        logger.logLevel = .warning
        let client = PostgresClient(configuration: cluster.clientConfiguration, backgroundLogger: logger)
        let running = Task { await client.run() }
        defer { running.cancel() }
        do {
            try await Schema.migrate(client, logger: logger)
            try await body(QueueDatabase(cluster: cluster, client: client, logger: logger))
        } catch {
            running.cancel()
            await cluster.destroy()
            throw error
        }
        running.cancel()
        await cluster.destroy()
    }

    /// Settings short enough for tests: leases of a second, polls and rescues in tenths.
    static var shortSettings: WorkerSettings {
        var settings = WorkerSettings()
        settings.pollInterval = .milliseconds(50)
        settings.leaseDuration = .seconds(1)
        settings.heartbeatInterval = .milliseconds(300)
        settings.rescueInterval = .milliseconds(200)
        settings.retryBase = .milliseconds(100)
        settings.retryCap = .seconds(1)
        settings.shutdownGrace = .seconds(2)
        return settings
    }

    /// A pool on a client of its own (as another process would have).
    func pool(name: String, handlers: [any JobHandler], settings: WorkerSettings = shortSettings) throws -> (WorkerPool, PostgresClient) {
        let client = PostgresClient(configuration: cluster.clientConfiguration, backgroundLogger: logger)
        return (WorkerPool(client: client, settings: settings, handlers: handlers, duties: [], logger: logger), client)
    }

    /// Runs `pools` (and their clients) while `body` runs.
    /// Pools stop before their clients, as the application's service group stops them.
    static func running(_ pools: [(WorkerPool, PostgresClient)], _ body: () async throws -> Void) async throws {
        let clients = pools.map { _, client in Task { await client.run() } }
        let workers = pools.map { pool, _ in Task { try? await pool.run() } }
        func stop() async {
            for task in workers { task.cancel() }
            for task in workers { await task.value }
            for task in clients { task.cancel() }
            for task in clients { await task.value }
        }
        do {
            try await body()
        } catch {
            await stop()
            throw error
        }
        await stop()
    }

    func count(_ condition: String) async throws -> Int {
        Int(try await client.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM jobs WHERE \(condition)"), logger: logger)
            .decode(Int64.self).first { _ in true } ?? 0)
    }

    /// The first column of every row, as text.
    func rows(_ sql: String) async throws -> [String] {
        var rows: [String] = []
        for try await row in try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(String.self) { rows.append(row) }
        return rows
    }

    func waitUntil(_ what: String, within limit: Duration = .seconds(120), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting until \(what)")
        throw CancellationError()
    }

    /// Inserts one job per result and settles each with it, 5 ms each.
    func attempts(_ results: [JobResult]) async throws {
        let start = try await count("true")
        try await queue.insert(results.indices.map { NewJob(kind: "notify", receiver: "ops", args: "{}", uniqueKey: "attempt-\(start + $0)") })
        let jobs = try await queue.claim(results.count, owner: "w", lease: .seconds(30))
        for (job, result) in zip(jobs, results) {
            try #require(try await queue.finish(job, owner: "w", result: result, latency: .milliseconds(5), policy: WorkerSettings().retryPolicy) != nil)
        }
    }
}
