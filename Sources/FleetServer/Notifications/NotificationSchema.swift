/// The tables notifications keep (schema version 5; `Schema.migrations` points here).
enum NotificationSchema {
    static let migration: [String] = [
        // Labels routes match and group on; a per-device offline threshold; the open offline
        // episode (when its notice was raised), cleared by the device's next batch; whether the
        // device's newest maintenance event started maintenance.
        """
        ALTER TABLE devices ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'::jsonb,
            ADD COLUMN offline_after_seconds integer,
            ADD COLUMN offline_since_ms bigint,
            ADD COLUMN in_maintenance boolean NOT NULL DEFAULT false
        """,
        // Routes added through the admin API (the configuration's are not stored).
        "CREATE TABLE notify_routes (id text PRIMARY KEY, spec jsonb NOT NULL, updated timestamptz NOT NULL DEFAULT now())",
        // One row per (route, receiver, group): what waits, when it began waiting, the last
        // flush, the job of that flush until it is over, and what is still firing (repeats).
        """
        CREATE TABLE notify_groups (
            id bigserial PRIMARY KEY,
            route_id text NOT NULL,
            receiver text NOT NULL,
            group_key text NOT NULL,
            group_labels jsonb NOT NULL,
            pending_since_ms bigint,
            last_flush_ms bigint,
            flushes bigint NOT NULL DEFAULT 0,
            in_flight text,
            in_flight_since_ms bigint,
            firing jsonb NOT NULL DEFAULT '[]'::jsonb,
            UNIQUE (route_id, receiver, group_key)
        )
        """,
        // The outbox: one row per (event, group), so a batch sent again inserts nothing.
        """
        CREATE TABLE notify_outbox (
            id bigserial PRIMARY KEY,
            group_id bigint NOT NULL REFERENCES notify_groups(id) ON DELETE CASCADE,
            event_key text NOT NULL,
            notice jsonb NOT NULL,
            flushed bigint,
            UNIQUE (group_id, event_key)
        )
        """,
        "CREATE INDEX notify_outbox_waiting ON notify_outbox (group_id, id) WHERE flushed IS NULL",
        """
        CREATE TABLE notify_receivers (
            receiver text PRIMARY KEY,
            last_delivered_ms bigint,
            last_error text,
            last_error_ms bigint
        )
        """,
    ]
}
