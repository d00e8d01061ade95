/// Migration 4: the job queue's tables.
///
/// - `jobs`: one row per job, its whole life. Claimable rows (`available`, `retryable`) sit
///   in a partial index in claim order, so a claim reads only due work however many
///   completed jobs are kept. `errors` holds the newest `JobQueue.errorsKept` failures.
/// - `job_attempts`: one row per finished attempt or rescue, with its latency, so error
///   rate, rescues and p50/p95 over a window are the fleet's (every process writes here)
///   and survive restarts; old rows are deleted by `QueueRetention`.
/// - `job_counters`: all-time counts per receiver, bumped in the statement that records
///   the outcome, so they cost nothing to read and outlive the attempt rows' retention.
enum QueueSchema {
    static let migration = [
        """
        CREATE TABLE jobs (
            id bigserial PRIMARY KEY,
            kind text NOT NULL,
            receiver text NOT NULL,
            args jsonb NOT NULL,
            unique_key text NOT NULL UNIQUE,
            state text NOT NULL DEFAULT 'available'
                CHECK (state IN ('available', 'running', 'retryable', 'completed', 'dead', 'cancelled')),
            priority integer NOT NULL,
            run_at timestamptz NOT NULL,
            attempt integer NOT NULL DEFAULT 0,
            max_attempts integer NOT NULL CHECK (max_attempts >= 1),
            lease_owner text,
            lease_expires_at timestamptz,
            last_error text,
            errors jsonb NOT NULL DEFAULT '[]',
            created timestamptz NOT NULL DEFAULT now(),
            finished timestamptz
        )
        """,
        "CREATE INDEX jobs_due ON jobs (priority, run_at, id) WHERE state IN ('available', 'retryable')",
        "CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running'",
        "CREATE INDEX jobs_by_state ON jobs (state, receiver, id)",
        """
        CREATE TABLE job_attempts (
            id bigserial PRIMARY KEY,
            job_id bigint NOT NULL,
            receiver text NOT NULL,
            outcome text NOT NULL CHECK (outcome IN ('completed', 'retried', 'dead', 'rescued')),
            latency_ms double precision,
            worker text NOT NULL,
            at timestamptz NOT NULL DEFAULT now()
        )
        """,
        "CREATE INDEX job_attempts_by_time ON job_attempts (at)",
        """
        CREATE TABLE job_counters (
            receiver text PRIMARY KEY,
            sent bigint NOT NULL DEFAULT 0,
            failed bigint NOT NULL DEFAULT 0,
            retried bigint NOT NULL DEFAULT 0,
            dead bigint NOT NULL DEFAULT 0,
            rescued bigint NOT NULL DEFAULT 0
        )
        """,
    ]
}
