import EdgeCore
import Foundation
import PostgresNIO

/// A job as the admin API shows it. Its arguments are left out: they may carry what a
/// receiver needs to deliver, which an operator's listing has no use for.
public struct JobRecord: Codable, Sendable, Hashable {
    /// One failed attempt, newest first in `errors`.
    public struct Failure: Codable, Sendable, Hashable {
        public var attempt: Int
        public var at: String
        public var error: String
    }

    public var id: Int64
    public var kind: String
    public var receiver: String
    public var uniqueKey: String
    public var state: JobState
    public var priority: Int
    public var attempt: Int
    public var maxAttempts: Int
    public var runAtMillis: Int64
    public var leaseOwner: String?
    public var leaseExpiresAtMillis: Int64?
    public var lastError: String?
    public var errors: [Failure]
    public var createdMillis: Int64
    public var finishedMillis: Int64?
}

/// Why an admin operation on one job did nothing.
public enum JobAdminRefusal: Error, Sendable, Hashable {
    case notFound(id: Int64)
    /// The job is in `state`, which the operation does not apply to; `holder` when running.
    case wrongState(id: Int64, state: JobState, holder: String?)
}

extension JobQueue {
    /// Jobs, newest first, optionally only `id`, of one state, of one receiver; at most `limit`.
    public func jobs(id: Int64? = nil, state: JobState?, receiver: String?, limit: Int) async throws -> [JobRecord] {
        let query: PostgresQuery = """
            SELECT id, kind, receiver, unique_key, state, priority, attempt, max_attempts, run_at, lease_owner,
                lease_expires_at, last_error, errors::text, created, finished
            FROM jobs
            WHERE (\(id)::int8 IS NULL OR id = \(id))
              AND (\(state?.rawValue)::text IS NULL OR state = \(state?.rawValue))
              AND (\(receiver)::text IS NULL OR receiver = \(receiver))
            ORDER BY id DESC LIMIT \(min(max(1, limit), Self.maxListLimit))
            """
        var records: [JobRecord] = []
        let rows = try await client.query(query, logger: logger)
            .decode((Int64, String, String, String, String, Int, Int, Int, Date, String?, Date?, String?, String, Date, Date?).self)
        for try await (id, kind, receiver, key, state, priority, attempt, maxAttempts, runAt, owner, expires, lastError, errors, created, finished) in rows {
            records.append(JobRecord(
                id: id, kind: kind, receiver: receiver, uniqueKey: key, state: JobState(rawValue: state) ?? .dead,
                priority: priority, attempt: attempt, maxAttempts: maxAttempts, runAtMillis: runAt.millis, leaseOwner: owner,
                leaseExpiresAtMillis: expires?.millis, lastError: lastError,
                errors: (try? JSONDecoder().decode([JobRecord.Failure].self, from: Data(errors.utf8))) ?? [],
                createdMillis: created.millis, finishedMillis: finished?.millis))
        }
        return records
    }

    /// Makes a dead or cancelled job available now, with one more attempt if it had none
    /// left. Throws `JobAdminRefusal` for an unknown job or one in another state.
    public func retry(id: Int64) async throws {
        let query: PostgresQuery = """
            UPDATE jobs SET state = 'available', run_at = now(), finished = NULL,
                max_attempts = GREATEST(max_attempts, attempt + 1)
            WHERE id = \(id) AND state IN ('dead', 'cancelled')
            RETURNING id
            """
        try await refuseUnlessChanged(query, id: id)
    }

    /// `retry` for every dead job of `receiver`; returns how many.
    public func retryDead(receiver: String) async throws -> Int {
        let query: PostgresQuery = """
            WITH retried AS (
                UPDATE jobs SET state = 'available', run_at = now(), finished = NULL,
                    max_attempts = GREATEST(max_attempts, attempt + 1)
                WHERE state = 'dead' AND receiver = \(receiver)
                RETURNING 1
            )
            SELECT count(*) FROM retried
            """
        return Int(try await client.query(query, logger: logger).single(Int64.self) ?? 0)
    }

    /// Cancels a job that is waiting (available or retryable). A running job is refused,
    /// not cancelled later: its attempt may already have delivered, and the operator can
    /// cancel it once the attempt ends (it is then retryable, or finished).
    public func cancel(id: Int64) async throws {
        let query: PostgresQuery = """
            UPDATE jobs SET state = 'cancelled', finished = now()
            WHERE id = \(id) AND state IN ('available', 'retryable')
            RETURNING id
            """
        try await refuseUnlessChanged(query, id: id)
    }

    private func refuseUnlessChanged(_ query: PostgresQuery, id: Int64) async throws {
        guard try await client.query(query, logger: logger).single(Int64.self) == nil else { return }
        let current = try await client.query("SELECT state, lease_owner FROM jobs WHERE id = \(id)", logger: logger)
        for try await (state, holder) in current.decode((String, String?).self) {
            throw JobAdminRefusal.wrongState(id: id, state: JobState(rawValue: state) ?? .dead, holder: holder)
        }
        throw JobAdminRefusal.notFound(id: id)
    }

    /// The fleet-wide numbers the health rules read: queue depth, the oldest due job, and
    /// the attempts within `window` (every process's, from `job_attempts`).
    public func snapshot(window: Duration) async throws -> QueueSnapshot {
        try await client.withConnection { connection in
            var snapshot = QueueSnapshot()
            for try await (state, count) in try await connection.query("SELECT state, count(*) FROM jobs GROUP BY state", logger: logger)
                .decode((String, Int64).self) {
                if let state = JobState(rawValue: state) { snapshot.depth[state] = Int(count) }
            }
            snapshot.oldestDueSeconds = try await connection.query("""
                SELECT EXTRACT(EPOCH FROM now() - min(run_at))::float8 FROM jobs
                WHERE state IN ('available', 'retryable') AND run_at <= now()
                """, logger: logger).single(Double?.self) ?? nil
            let stats: PostgresQuery = """
                SELECT count(*) FILTER (WHERE outcome = 'completed'), count(*) FILTER (WHERE outcome IN ('retried', 'dead')),
                    count(*) FILTER (WHERE outcome = 'rescued'),
                    (percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms))::float8,
                    (percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms))::float8
                FROM job_attempts WHERE at > now() - make_interval(secs => \(window.inSeconds))
                """
            for try await (completed, failed, rescues, p50, p95) in try await connection.query(stats, logger: logger)
                .decode((Int64, Int64, Int64, Double?, Double?).self) {
                snapshot.window = .init(completed: Int(completed), failed: Int(failed), rescues: Int(rescues),
                                        latencyP50Millis: p50, latencyP95Millis: p95)
            }
            for try await (receiver, sent, failed, retried, dead, rescued) in try await connection.query(
                "SELECT receiver, sent, failed, retried, dead, rescued FROM job_counters ORDER BY receiver", logger: logger)
                .decode((String, Int64, Int64, Int64, Int64, Int64).self) {
                snapshot.receivers.append(.init(receiver: receiver, sent: sent, failed: failed, retried: retried, dead: dead, rescued: rescued))
            }
            return snapshot
        }
    }
}

extension Date {
    var millis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
}
