import EdgeTesting
import FleetServer
import FleetServerTesting
import Foundation
import PostgresNIO
import Testing
import Wire

/// `/metrics` against real PostgreSQL over real TLS, read back by prometheus_client's parser
/// (scripts/parse-metrics.py), each figure checked against what the test did.
@Suite struct MetricsEndpointTests {
    typealias Sample = PrometheusText.Sample

    static func parse(_ text: String) async throws -> [Sample] { try await PrometheusText.parse(text) }

    @Test func scrapedFiguresAreWhatTheTestDid() async throws {
        try await ServerHarness.with(configure: {
            $0.dashboard.metricsTokenHash = TokenHash(of: DashboardSeed.metricsToken)
            // The workers look for jobs once at start and then not for an hour: the jobs this
            // test inserts stay as inserted (the harness runs the real notify handler, which
            // would claim the due one and kill it for its empty arguments).
            $0.worker.pollInterval = .seconds(3600)
        }) { server in
            let curl = Curl(caFile: server.certificates.ca)
            // Two stores of the same batch (the second all duplicates), one malformed, one without a token.
            #expect(try await curl.post(SampleBatches.batch(), to: server.url, token: server.deviceToken).status == 200)
            #expect(try await curl.post(SampleBatches.batch(), to: server.url, token: server.deviceToken).status == 200)
            #expect(try await curl.postBody([1, 2, 3], to: server.url, token: server.deviceToken).status == 400)
            #expect(try await curl.post(SampleBatches.batch(), to: server.url, token: nil).status == 401)
            _ = try await server.addDevice("reef-2")
            try await server.database.query("""
                INSERT INTO job_counters (receiver, sent, failed, retried, dead, rescued) VALUES ('ntfy-ops', 7, 3, 2, 1, 1)
                """)
            try await server.database.query("""
                INSERT INTO jobs (kind, receiver, args, unique_key, state, priority, run_at, max_attempts)
                VALUES ('notify', 'ntfy-ops', '{}'::jsonb, 'metrics-1', 'dead', 2, now(), 3),
                       ('notify', 'ntfy-ops', '{}'::jsonb, 'metrics-2', 'retryable', 2, now() - interval '90 seconds', 3)
                """)

            let anonymous = try await curl.request("GET", server.url + "/metrics")
            #expect(anonymous.status == 401)
            #expect(anonymous.wireError == WireError(error: "unauthorized", reason: "/metrics needs Authorization: Bearer <metrics token>"))
            let device = try await curl.request("GET", server.url + "/metrics", headers: ["Authorization": "Bearer \(server.deviceToken)"])
            #expect(device.status == 401)
            #expect(server.log.lines.filter { $0.contains("metrics authentication failed") }.count == 2)
            #expect(!server.log.lines.contains { $0.contains(server.deviceToken) })

            let scrape = try await curl.request("GET", server.url + "/metrics", headers: ["Authorization": "Bearer \(DashboardSeed.metricsToken)"])
            #expect(scrape.status == 200)
            #expect(scrape.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let samples = try await Self.parse(String(decoding: scrape.body, as: UTF8.self))
            func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
                samples.first { $0.name == name && $0.labels == labels }?.value
            }
            #expect(value("reef_fleet_batches_stored_total") == 2)
            #expect(value("reef_fleet_readings_stored_total") == 5)
            #expect(value("reef_fleet_events_stored_total") == 2)
            #expect(value("reef_fleet_health_reports_stored_total") == 2)
            #expect(value("reef_fleet_duplicate_rows_total", ["kind": "readings"]) == 5)
            #expect(value("reef_fleet_duplicate_rows_total", ["kind": "events"]) == 2)
            #expect(value("reef_fleet_batches_rejected_total", ["reason": "malformed"]) == 1)
            #expect(value("reef_fleet_batches_rejected_total", ["reason": "unauthorized"]) == 1)
            #expect(value("reef_fleet_http_request_duration_seconds_count", ["route": "/v1/batches", "method": "POST", "status": "200"]) == 2)
            #expect(value("reef_fleet_http_request_duration_seconds_count", ["route": "/v1/batches", "method": "POST", "status": "400"]) == 1)
            #expect(value("reef_fleet_http_request_duration_seconds_count", ["route": "/metrics", "method": "GET", "status": "401"]) == 2)
            #expect(samples.contains { $0.family == "reef_fleet_http_request_duration_seconds" && $0.type == "histogram" })
            // reef-1 sent a degraded health report just now; reef-2 never sent anything.
            #expect(value("reef_fleet_devices", ["state": "degraded"]) == 1)
            #expect(value("reef_fleet_devices", ["state": "never_seen"]) == 1)
            #expect(value("reef_fleet_devices", ["state": "online"]) == 0)
            #expect(value("reef_fleet_devices", ["state": "offline"]) == 0)
            #expect(value("reef_fleet_build_info", ["version": FleetMetrics.serverVersion]) == 1)
            #expect(value("reef_fleet_database_up") == 1)
            #expect(value("reef_fleet_database_pool_max_connections") == 20)
            #expect((value("reef_fleet_database_connections", ["state": "active"]) ?? 0) >= 1)
            #expect(value("reef_fleet_queue_jobs", ["state": "dead"]) == 1)
            #expect(value("reef_fleet_queue_jobs", ["state": "retryable"]) == 1)
            #expect(value("reef_fleet_queue_jobs", ["state": "completed"]) == 0)
            #expect((value("reef_fleet_queue_oldest_due_seconds") ?? 0) >= 90)
            #expect(value("reef_fleet_notifications_sent_total", ["receiver": "ntfy-ops"]) == 7)
            #expect(value("reef_fleet_notifications_failed_total", ["receiver": "ntfy-ops"]) == 3)
            #expect(value("reef_fleet_notifications_dead_total", ["receiver": "ntfy-ops"]) == 1)
            #expect(value("reef_fleet_queue_rescues_total") == 1)
            // Every name carries the one prefix; every counter ends in _total.
            #expect(samples.allSatisfy { $0.name.hasPrefix("reef_fleet_") })
            #expect(samples.filter { $0.type == "counter" }.allSatisfy { $0.name.hasSuffix("_total") })

            // A second scrape sets the queue's totals again rather than adding them twice.
            let again = try await curl.request("GET", server.url + "/metrics", headers: ["Authorization": "Bearer \(DashboardSeed.metricsToken)"])
            let second = try await Self.parse(String(decoding: again.body, as: UTF8.self))
            #expect(second.first { $0.name == "reef_fleet_notifications_sent_total" && $0.labels == ["receiver": "ntfy-ops"] }?.value == 7)
        }
    }

    @Test func withoutAMetricsTokenTheEndpointIsOff() async throws {
        try await ServerHarness.with { server in
            let response = try await Curl(caFile: server.certificates.ca).request("GET", server.url + "/metrics",
                                                                                   headers: ["Authorization": "Bearer \(server.adminToken)"])
            #expect(response.status == 403)
            #expect(response.wireError == WireError(error: "forbidden", reason: "/metrics is off; start the server with --metrics-token-file"))
        }
    }
}
