import Foundation
import Hummingbird
import NIOCore

/// `GET /metrics`: the Prometheus text exposition, for a scraper holding the metrics token.
/// A failed token counts against the client's address in the `AdminGuard` every admin route
/// shares. Figures that are a state (devices by state, database connections) are read from
/// PostgreSQL for each scrape.
extension DashboardRoutes {
    func scrape(_ request: Request, context: FleetRequestContext) async throws -> Response {
        guard let expected = settings.metricsTokenHash else {
            throw FleetError(.forbidden, "forbidden", "/metrics is off; start the server with --metrics-token-file")
        }
        let address = context.clientAddress
        if let wait = admin.guard.retryAfter(address) {
            throw FleetError(.tooManyRequests, "too_many_attempts", "too many failed logins from \(address); retry in \(wait) s", retryAfter: wait)
        }
        guard let token = DeviceToken.bearer(request.headers[.authorization]), TokenHash(of: token).matches(expected) else {
            let failures = admin.guard.recordFailure(address)
            context.logger.warning("metrics authentication failed", metadata: [
                "client": "\(address)", "failures": "\(failures)", "token": "\(request.headers[.authorization] == nil ? "none" : "wrong")",
            ])
            throw FleetError(.unauthorized, "unauthorized", "/metrics needs Authorization: Bearer <metrics token>")
        }
        await readState()
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
    }

    /// Sets the scrape-time gauges. A database that does not answer sets
    /// `reef_fleet_database_up` to 0 and leaves the other figures as they were last read.
    func readState() async {
        metrics.gauge("database_pool_max_connections").record(configuration.database.options.maximumConnections)
        let store = store
        do {
            let (devices, connections) = try await withDeadline(configuration.databaseTimeout) {
                (try await store.deviceStates(), try await store.connectionsByState())
            }
            let now = nowMillis()
            var counts = Dictionary(uniqueKeysWithValues: DeviceState.allCases.map { ($0, 0) })
            for device in devices {
                counts[DeviceState.of(lastSeenMillis: device.lastSeenMillis, health: device.status, nowMillis: now,
                                      offlineAfter: device.offlineAfter), default: 0] += 1
            }
            for (state, count) in counts { metrics.gauge("devices", [("state", state.rawValue)]).record(count) }
            for state in Set(["active", "idle", "idle in transaction"]).union(connections.keys) {
                metrics.gauge("database_connections", [("state", state)]).record(connections[state] ?? 0)
            }
            metrics.gauge("database_up").record(1)
            try await readQueue()
        } catch {
            logger.warning("metrics could not read the database", metadata: ["error": "\(error)"])
            metrics.gauge("database_up").record(0)
        }
    }

    /// The job queue's figures from its snapshot: depth by state, the oldest due job's age,
    /// and each receiver's all-time counts (counters: they only grow, across restarts too,
    /// because the queue keeps them in PostgreSQL).
    func readQueue() async throws {
        let queue = pool.queue
        let window = workerSettings.health.window
        let snapshot = try await withDeadline(configuration.databaseTimeout) { try await queue.snapshot(window: window) }
        for state in JobState.allCases {
            metrics.gauge("queue_jobs", [("state", state.rawValue)]).record(snapshot.depth[state] ?? 0)
        }
        metrics.gauge("queue_oldest_due_seconds").record(snapshot.oldestDueSeconds ?? 0)
        for receiver in snapshot.receivers {
            for (outcome, value) in [("sent", receiver.sent), ("failed", receiver.failed), ("retried", receiver.retried),
                                     ("dead", receiver.dead), ("rescued", receiver.rescued)] {
                metrics.total("notifications_\(outcome)_total", [("receiver", receiver.receiver)], value)
            }
        }
        let rescues = snapshot.receivers.reduce(Int64(0)) { $0 + $1.rescued }
        metrics.total("queue_rescues_total", [], rescues)
    }
}
