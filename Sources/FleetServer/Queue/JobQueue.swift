import EdgeCore
import Foundation
import Logging
import PostgresNIO

/// The job queue in PostgreSQL: insert inside the caller's transaction, claim with
/// `FOR UPDATE SKIP LOCKED` under a lease, finish fenced by the lease, rescue expired
/// leases, and the admin operations. Only this type writes the `jobs`, `job_attempts` and
/// `job_counters` tables.
///
/// Every time is PostgreSQL's `now()`, so processes on several machines share one clock.
/// A finish, heartbeat or release names the holder and the attempt it holds; once the
/// rescuer has taken a job back (and perhaps another worker claimed it), the old holder's
/// word changes nothing.
public struct JobQueue: Sendable {
    /// Failures kept per job in `errors`, newest first (`last_error` always has the newest).
    public static let errorsKept = 5
    /// Longest error text stored; a receiver's whole HTML error page is not a reason.
    static let maxErrorLength = 2_000
    /// Largest page of jobs the admin list returns.
    public static let maxListLimit = 1_000

    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    // MARK: Inserting

    /// Inserts `jobs` on `connection`, inside the caller's transaction: they exist if and
    /// only if the caller commits. A unique key already present inserts nothing (however
    /// often a batch is resent). Returns how many were inserted.
    @discardableResult
    public static func insert(_ jobs: [NewJob], on connection: PostgresConnection, logger: Logger) async throws -> Int {
        guard !jobs.isEmpty else { return 0 }
        let query: PostgresQuery = """
            WITH inserted AS (
                INSERT INTO jobs (kind, receiver, args, unique_key, priority, run_at, max_attempts)
                SELECT k, r, a::jsonb, u, p, now() + make_interval(secs => d), m
                FROM unnest(\(jobs.map(\.kind)), \(jobs.map(\.receiver)), \(jobs.map(\.args)), \(jobs.map(\.uniqueKey)),
                            \(jobs.map(\.priority)), \(jobs.map { max(0, $0.delaySeconds) }), \(jobs.map { max(1, $0.maxAttempts) }))
                    AS t(k, r, a, u, p, d, m)
                ON CONFLICT (unique_key) DO NOTHING
                RETURNING 1
            )
            SELECT count(*) FROM inserted
            """
        return try await connection.query(query, logger: logger).single(Int64.self).map(Int.init) ?? 0
    }

    /// `insert` in a transaction of its own (tests, tools).
    @discardableResult
    public func insert(_ jobs: [NewJob]) async throws -> Int {
        try await client.withTransaction(logger: logger) { try await Self.insert(jobs, on: $0, logger: logger) }
    }

    // MARK: Working

    /// Claims up to `limit` due jobs for `owner`, in priority, due time and id order, each
    /// under a lease of `lease` and with its attempt counted. Rows another worker is
    /// claiming are skipped, not waited for.
    public func claim(_ limit: Int, owner: String, lease: Duration) async throws -> [ClaimedJob] {
        let query: PostgresQuery = """
            WITH due AS (
                SELECT id FROM jobs
                WHERE state IN ('available', 'retryable') AND run_at <= now()
                ORDER BY priority, run_at, id
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            UPDATE jobs SET state = 'running', attempt = jobs.attempt + 1, lease_owner = \(owner),
                lease_expires_at = now() + make_interval(secs => \(lease.inSeconds))
            FROM due WHERE jobs.id = due.id
            RETURNING jobs.id, jobs.kind, jobs.receiver, jobs.args::text, jobs.attempt, jobs.max_attempts, jobs.unique_key
            """
        var claimed: [ClaimedJob] = []
        for try await (id, kind, receiver, args, attempt, maxAttempts, key) in try await client.query(query, logger: logger)
            .decode((Int64, String, String, String, Int, Int, String).self) {
            claimed.append(ClaimedJob(id: id, kind: kind, receiver: receiver, args: args, attempt: attempt,
                                      maxAttempts: maxAttempts, idempotencyKey: key))
        }
        return claimed.sorted { $0.id < $1.id }
    }

    /// Renews `job`'s lease; false when `owner` no longer holds this attempt (rescued).
    public func heartbeat(_ job: ClaimedJob, owner: String, lease: Duration) async throws -> Bool {
        let query: PostgresQuery = """
            WITH renewed AS (
                UPDATE jobs SET lease_expires_at = now() + make_interval(secs => \(lease.inSeconds))
                WHERE id = \(job.id) AND state = 'running' AND lease_owner = \(owner) AND attempt = \(job.attempt)
                RETURNING 1
            )
            SELECT count(*) FROM renewed
            """
        return try await client.query(query, logger: logger).single(Int64.self) == 1
    }

    /// Records what `job`'s attempt came to (see `Settlement`), with its latency, and
    /// counts it under its receiver. Returns the settlement, or nil when `owner` no longer
    /// holds this attempt: the job was rescued and its fate is someone else's.
    @discardableResult
    public func finish(_ job: ClaimedJob, owner: String, result: JobResult, latency: Duration,
                       policy: RetryPolicy) async throws -> Settlement? {
        var random = SystemRandomNumberGenerator()
        let settlement = Settlement(job, result, policy: policy, using: &random)
        let error = settlement.error.map { String($0.prefix(Self.maxErrorLength)) }
        let counts = settlement.counts
        let query: PostgresQuery = """
            WITH done AS (
                UPDATE jobs SET state = \(settlement.state.rawValue),
                    run_at = COALESCE(now() + make_interval(secs => \(settlement.delay?.inSeconds)), run_at),
                    lease_owner = NULL, lease_expires_at = NULL,
                    last_error = COALESCE(\(error), last_error),
                    errors = CASE WHEN \(error)::text IS NULL THEN errors ELSE jsonb_path_query_array(
                        jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', now(), 'error', \(error)::text)) || errors,
                        '$[0 to 4]') END,
                    finished = CASE WHEN \(settlement.state.isFinal) THEN now() END
                WHERE id = \(job.id) AND state = 'running' AND lease_owner = \(owner) AND attempt = \(job.attempt)
                RETURNING receiver
            ), recorded AS (
                INSERT INTO job_attempts (job_id, receiver, outcome, latency_ms, worker)
                SELECT \(job.id), receiver, \(settlement.outcome.rawValue), \(Double(latency.saturatingNanos) / 1e6), \(owner) FROM done
            ), counted AS (
                INSERT INTO job_counters AS c (receiver, sent, failed, retried, dead)
                SELECT receiver, \(counts.sent), \(counts.failed), \(counts.retried), \(counts.dead) FROM done
                ON CONFLICT (receiver) DO UPDATE SET sent = c.sent + EXCLUDED.sent, failed = c.failed + EXCLUDED.failed,
                    retried = c.retried + EXCLUDED.retried, dead = c.dead + EXCLUDED.dead
            )
            SELECT count(*) FROM done
            """
        return try await client.query(query, logger: logger).single(Int64.self) == 1 ? settlement : nil
    }

    /// Gives `job` back unfinished (a worker shutting down): due again now, attempt kept.
    /// False when `owner` no longer holds it.
    public func release(_ job: ClaimedJob, owner: String) async throws -> Bool {
        let query: PostgresQuery = """
            WITH released AS (
                UPDATE jobs SET state = 'retryable', run_at = now(), lease_owner = NULL, lease_expires_at = NULL
                WHERE id = \(job.id) AND state = 'running' AND lease_owner = \(owner) AND attempt = \(job.attempt)
                RETURNING 1
            )
            SELECT count(*) FROM released
            """
        return try await client.query(query, logger: logger).single(Int64.self) == 1
    }

    /// A job the rescuer took back from a holder whose lease expired.
    public struct Rescue: Sendable, Hashable {
        public var id: Int64
        public var receiver: String
        /// `.retryable` (due at once) or `.dead` (its last attempt was the one that expired).
        public var state: JobState
        public var holder: String
    }

    /// Takes back up to `limit` running jobs whose lease expired, counting each as a rescue
    /// by `worker`: retryable and due at once, or dead if that was its last attempt.
    public func rescue(by worker: String, limit: Int = 1_000) async throws -> [Rescue] {
        let query: PostgresQuery = """
            WITH expired AS (
                SELECT id, lease_owner AS holder FROM jobs
                WHERE state = 'running' AND lease_expires_at < now()
                ORDER BY lease_expires_at LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            ), rescued AS (
                UPDATE jobs SET state = CASE WHEN jobs.attempt >= jobs.max_attempts THEN 'dead' ELSE 'retryable' END,
                    run_at = now(), lease_owner = NULL, lease_expires_at = NULL,
                    last_error = 'lease expired on ' || expired.holder || ' during attempt ' || jobs.attempt,
                    errors = jsonb_path_query_array(jsonb_build_array(jsonb_build_object('attempt', jobs.attempt, 'at', now(),
                        'error', 'lease expired on ' || expired.holder || ' during attempt ' || jobs.attempt)) || jobs.errors, '$[0 to 4]'),
                    finished = CASE WHEN jobs.attempt >= jobs.max_attempts THEN now() END
                FROM expired WHERE jobs.id = expired.id
                RETURNING jobs.id, jobs.receiver, jobs.state, expired.holder
            ), recorded AS (
                INSERT INTO job_attempts (job_id, receiver, outcome, latency_ms, worker)
                SELECT id, receiver, 'rescued', NULL, \(worker) FROM rescued
            ), counted AS (
                INSERT INTO job_counters AS c (receiver, rescued, dead)
                SELECT receiver, count(*), count(*) FILTER (WHERE state = 'dead') FROM rescued GROUP BY receiver
                ON CONFLICT (receiver) DO UPDATE SET rescued = c.rescued + EXCLUDED.rescued, dead = c.dead + EXCLUDED.dead
            )
            SELECT id, receiver, state, holder FROM rescued ORDER BY id
            """
        var rescues: [Rescue] = []
        for try await (id, receiver, state, holder) in try await client.query(query, logger: logger)
            .decode((Int64, String, String, String).self) {
            rescues.append(Rescue(id: id, receiver: receiver, state: JobState(rawValue: state) ?? .dead, holder: holder))
        }
        return rescues
    }

    /// Runs `duty` if no other process is running it: under `pg_try_advisory_xact_lock`,
    /// in a transaction that holds the lock until the duty is done. False when the lock was
    /// taken (another process is on it).
    @discardableResult
    public func run(_ duty: any PeriodicDuty) async throws -> Bool {
        try await client.withTransaction(logger: logger) { connection in
            let locked = try await connection.query("SELECT pg_try_advisory_xact_lock(\(duty.lockKey))", logger: logger)
                .single(Bool.self) ?? false
            guard locked else { return false }
            try await duty.run(on: connection)
            return true
        }
    }
}

/// Where a job is in its life.
public enum JobState: String, Sendable, Hashable, Codable, CaseIterable {
    case available, running, retryable, completed, dead, cancelled

    /// Completed and dead jobs are finished; a retried dead job starts again.
    var isFinal: Bool { self == .completed || self == .dead || self == .cancelled }
}

/// What the queue does with an attempt's `JobResult`: the pure rule, so it is tested
/// without a database.
public struct Settlement: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable { case completed, retried, dead }

    public var state: JobState
    public var outcome: Outcome
    /// Until the next attempt (retryable only).
    public var delay: Duration?
    public var error: String?

    public init(_ job: ClaimedJob, _ result: JobResult, policy: RetryPolicy, using random: inout some RandomNumberGenerator) {
        switch result {
        case .completed:
            (state, outcome, delay, error) = (.completed, .completed, nil, nil)
        case .dead(let reason):
            (state, outcome, delay, error) = (.dead, .dead, nil, reason)
        case .retry(let reason, _) where job.attempt >= job.maxAttempts:
            (state, outcome, delay, error) = (.dead, .dead, nil, "\(reason) (attempt \(job.attempt) of \(job.maxAttempts): no attempts left)")
        case .retry(let reason, let notBefore):
            (state, outcome, delay, error) = (.retryable, .retried,
                                              policy.delay(afterAttempt: job.attempt, notBeforeSeconds: notBefore, using: &random), reason)
        }
    }

    /// What it adds to its receiver's counters.
    var counts: (sent: Int64, failed: Int64, retried: Int64, dead: Int64) {
        switch outcome {
        case .completed: (1, 0, 0, 0)
        case .retried: (0, 1, 1, 0)
        case .dead: (0, 1, 0, 1)
        }
    }
}

extension PostgresRowSequence {
    /// The first column of the only row, or nil for no rows.
    func single<T: PostgresDecodable & Sendable>(_ type: T.Type) async throws -> T? {
        for try await value in decode(T.self) { return value }
        return nil
    }
}
