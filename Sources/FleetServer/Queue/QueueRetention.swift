import Logging
import PostgresNIO

/// Keeps the queue's tables bounded: deletes completed and cancelled jobs past
/// `finishedRetention` and attempt records past `statsRetention`. Dead jobs stay until an
/// operator retries them. Every pool runs it; the advisory lock lets one process at a time.
struct QueueRetention: PeriodicDuty {
    /// Advisory lock keys of the fleet server: 7270211 migrations, 7270401 this duty.
    static let key: Int64 = 7_270_401

    let settings: WorkerSettings
    let logger: Logger

    var name: String { "queue-retention" }
    var lockKey: Int64 { Self.key }
    var interval: Duration { settings.retentionInterval }

    func run(on connection: PostgresConnection) async throws {
        try await connection.query("""
            DELETE FROM jobs WHERE state IN ('completed', 'cancelled')
                AND finished < now() - make_interval(secs => \(settings.finishedRetention.inSeconds))
            """, logger: logger)
        try await connection.query("DELETE FROM job_attempts WHERE at < now() - make_interval(secs => \(settings.statsRetention.inSeconds))",
                                   logger: logger)
    }
}
