import Logging
import PostgresNIO

/// The database schema as an ordered list of migrations, applied once each and recorded in
/// `schema_migrations`. A new version appends; an applied one is never edited.
public enum Schema {
    static let migrations: [(version: Int, statements: [String])] = [
        (1, [
            """
            CREATE TABLE devices (
                id bigserial PRIMARY KEY,
                name text NOT NULL UNIQUE,
                token_hash bytea NOT NULL UNIQUE,
                created timestamptz NOT NULL DEFAULT now(),
                last_seen timestamptz,
                last_health jsonb
            )
            """,
            // Identity is (device, store, sequence): a retried batch inserts nothing twice.
            """
            CREATE TABLE readings (
                device_id bigint NOT NULL REFERENCES devices(id),
                store_id text NOT NULL,
                sequence bigint NOT NULL,
                sensor_id text NOT NULL,
                ts_ms bigint NOT NULL,
                value double precision NOT NULL,
                unit text NOT NULL,
                quality text NOT NULL,
                PRIMARY KEY (device_id, store_id, sequence)
            )
            """,
            "CREATE INDEX readings_by_sensor_time ON readings (device_id, sensor_id, ts_ms)",
            """
            CREATE TABLE alert_events (
                device_id bigint NOT NULL REFERENCES devices(id),
                store_id text NOT NULL,
                sequence bigint NOT NULL,
                rule_id text NOT NULL,
                sensor_id text NOT NULL,
                kind text NOT NULL,
                severity text NOT NULL,
                value double precision,
                threshold double precision,
                ts_ms bigint NOT NULL,
                active_since_ms bigint,
                message text NOT NULL,
                PRIMARY KEY (device_id, store_id, sequence)
            )
            """,
            "CREATE INDEX alert_events_by_time ON alert_events (device_id, ts_ms)",
            """
            CREATE TABLE health (
                device_id bigint NOT NULL REFERENCES devices(id),
                taken_at_ms bigint NOT NULL,
                received timestamptz NOT NULL DEFAULT now(),
                report jsonb NOT NULL
            )
            """,
            "CREATE INDEX health_by_time ON health (device_id, taken_at_ms)",
        ]),
        // Health retention keeps each device's newest reports by arrival order.
        (2, [
            "ALTER TABLE health ADD COLUMN id bigserial",
            "CREATE INDEX health_by_arrival ON health (device_id, id)",
        ]),
        // Every field an alert event has, and the clock state beside the measured quality.
        // Rows stored before this read not silenced, with no output (the server never had
        // the device's word); readings an older agent sent as `clock-unsynced` keep that
        // word as their quality and get the flag.
        (3, [
            "ALTER TABLE alert_events ADD COLUMN silenced boolean NOT NULL DEFAULT false, ADD COLUMN output text",
            "ALTER TABLE readings ADD COLUMN clock_unsynced boolean NOT NULL DEFAULT false",
            "UPDATE readings SET clock_unsynced = true WHERE quality = 'clock-unsynced'",
        ]),
        (4, QueueSchema.migration),
        (5, NotificationSchema.migration),
    ]

    /// Applies what is missing, in one transaction under an advisory lock, so two servers
    /// starting against one database do not race.
    public static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7270211)", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger)
                .decode(Int.self) {
                applied.insert(version)
            }
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO schema_migrations (version) VALUES (\(migration.version))", logger: logger)
                logger.info("applied a schema migration", metadata: ["version": "\(migration.version)"])
            }
        }
    }
}
