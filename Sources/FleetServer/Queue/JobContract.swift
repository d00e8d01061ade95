import PostgresNIO

// The contract between the PostgreSQL job queue (Sources/FleetServer/Queue) and what puts
// work on it and does it (Sources/FleetServer/Notifications). The queue knows nothing of
// notifications: a job is a kind, a receiver to count it under, and JSON arguments fixed at
// insert, so every attempt of one job does exactly the same thing under the same key.

/// A job to insert, inside the caller's transaction (the transactional outbox: the job
/// exists if and only if the work that asked for it committed).
public struct NewJob: Sendable, Hashable {
    /// What handles it (`JobHandler.kind`), e.g. `notify`.
    public var kind: String
    /// The receiver it is counted under (per-receiver counters, `retry all of a receiver`).
    public var receiver: String
    /// Arguments, as JSON; fixed for the job's life.
    public var args: String
    /// Unique key: a second insert with the same key inserts nothing (a batch sent again).
    public var uniqueKey: String
    /// Lower runs first among due jobs (critical alerts before resolutions).
    public var priority: Int
    /// Seconds from now before the job is due (0 = now).
    public var delaySeconds: Double
    public var maxAttempts: Int

    public init(kind: String, receiver: String, args: String, uniqueKey: String, priority: Int = 2,
                delaySeconds: Double = 0, maxAttempts: Int = 10) {
        self.kind = kind
        self.receiver = receiver
        self.args = args
        self.uniqueKey = uniqueKey
        self.priority = priority
        self.delaySeconds = delaySeconds
        self.maxAttempts = maxAttempts
    }
}

/// A job a worker holds under a lease.
public struct ClaimedJob: Sendable, Hashable {
    public var id: Int64
    public var kind: String
    public var receiver: String
    public var args: String
    /// 1 for the first attempt.
    public var attempt: Int
    public var maxAttempts: Int
    /// The same for every attempt of this job, including one after a rescue: receivers that
    /// deduplicate (the webhook's `Idempotency-Key`) see a resend as the same message.
    public var idempotencyKey: String

    public init(id: Int64, kind: String, receiver: String, args: String, attempt: Int, maxAttempts: Int, idempotencyKey: String) {
        self.id = id
        self.kind = kind
        self.receiver = receiver
        self.args = args
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.idempotencyKey = idempotencyKey
    }
}

/// What one attempt came to, as the handler saw it; the queue decides what follows
/// (backoff, dead after max attempts) and records it.
public enum JobResult: Sendable, Hashable {
    case completed
    /// Try again: after the backoff, and never before `notBeforeSeconds` (a `Retry-After`).
    case retry(error: String, notBeforeSeconds: Double?)
    /// Retrying cannot help (a 4xx): dead at once, with the reason, until an operator retries it.
    case dead(error: String)
}

/// Does the work of one kind of job. Must not throw: every failure is a `JobResult`.
public protocol JobHandler: Sendable {
    var kind: String { get }
    func perform(_ job: ClaimedJob) async -> JobResult
}

/// Work a worker pool runs every `interval`, in one process at a time across the fleet's
/// servers (the pool holds a PostgreSQL advisory lock keyed by `lockKey` while it runs):
/// flushing notification groups that fell due, detecting silent devices.
public protocol PeriodicDuty: Sendable {
    var name: String { get }
    var lockKey: Int64 { get }
    var interval: Duration { get }
    /// Runs once; `connection` holds the lock (in a transaction) while this runs.
    func run(on connection: PostgresConnection) async throws
}
