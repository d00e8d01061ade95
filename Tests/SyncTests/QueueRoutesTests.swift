import EdgeTesting
import FleetServer
import FleetServerTesting
import Foundation
import Logging
import PostgresNIO
import Testing
import Wire

/// The worker's routes on the real server (TLS, PostgreSQL), driven with curl: the admin
/// token, status codes and reasons, and public health following the database.
@Suite(.serialized) struct QueueRoutesTests {
    @Test func publicHealthIsStatusOnlyAnd503WhileTheDatabaseIsDown() async throws {
        try await ServerHarness.with { server in
            let curl = Curl(caFile: server.certificates.ca)
            let healthy = try await curl.request("GET", server.url + "/v1/worker/health")
            #expect(healthy.status == 200)
            #expect(String(decoding: healthy.body, as: UTF8.self) == #"{"status":"healthy"}"#)
            try await server.cluster.stop()
            let down = try await curl.request("GET", server.url + "/v1/worker/health")
            #expect(down.status == 503)
            #expect(String(decoding: down.body, as: UTF8.self) == #"{"status":"unhealthy"}"#)
            let status = try await curl.request("GET", server.url + "/v1/admin/worker/status",
                                                headers: ["Authorization": "Bearer \(server.adminToken)"])
            #expect(try status.decode(WorkerRoutes.Status.self).reasons == ["the database does not answer"])
            try await server.cluster.start()
            let deadline = ContinuousClock.now + .seconds(20)
            var again = try await curl.request("GET", server.url + "/v1/worker/health")
            while again.status != 200, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                again = try await curl.request("GET", server.url + "/v1/worker/health")
            }
            #expect(again.status == 200)
            #expect(String(decoding: again.body, as: UTF8.self) == #"{"status":"healthy"}"#)
        }
    }

    @Test func theAdminRoutesNeedTheTokenAndAnswerWithExactStatuses() async throws {
        // Five refusals below, from one address: allow them without locking it out. The
        // server's workers poll once at start and then not for 30 s, so a retried job stays
        // as the answer shows it.
        try await ServerHarness.with(configure: {
            $0.adminFailuresAllowed = 10
            $0.worker.pollInterval = .seconds(30)
        }) { server in
            let curl = Curl(caFile: server.certificates.ca)
            let admin = ["Authorization": "Bearer \(server.adminToken)"]
            let queue = JobQueue(client: server.database, logger: Logger(label: "queue-routes"))
            // Not due for an hour: the server's own workers leave them alone.
            try await queue.insert([
                NewJob(kind: "notify", receiver: "ops", args: "{}", uniqueKey: "now-1", delaySeconds: 3_600),
                NewJob(kind: "notify", receiver: "ops", args: "{}", uniqueKey: "now-2", delaySeconds: 3_600),
                NewJob(kind: "notify", receiver: "mail", args: "{}", uniqueKey: "later", delaySeconds: 3_600),
            ])
            for (method, path) in [("GET", "/v1/admin/worker/status"), ("GET", "/v1/admin/jobs"), ("POST", "/v1/admin/jobs/1/retry"),
                                   ("POST", "/v1/admin/jobs/1/cancel"), ("POST", "/v1/admin/jobs/retry?receiver=ops")] {
                let refused = try await curl.request(method, server.url + path)
                #expect(refused.status == 401)
                #expect(refused.wireError == WireError(error: "unauthorized", reason: "the admin API needs Authorization: Bearer <admin token>"))
            }

            let status = try await curl.request("GET", server.url + "/v1/admin/worker/status", headers: admin)
            #expect(status.status == 200)
            let decoded = try status.decode(WorkerRoutes.Status.self)
            #expect(decoded.status == .healthy)
            #expect(decoded.queue == ["available": 3, "running": 0, "retryable": 0, "completed": 0, "dead": 0, "cancelled": 0])
            #expect(decoded.process.kinds == ["notify"])
            #expect(decoded.process.held == 0)
            #expect(decoded.windowSeconds == 300)

            let listed = try await curl.request("GET", server.url + "/v1/admin/jobs?state=available&receiver=ops&limit=10", headers: admin)
            let ops = try listed.decode([JobRecord].self)
            #expect(ops.map(\.uniqueKey) == ["now-2", "now-1"])
            let badState = try await curl.request("GET", server.url + "/v1/admin/jobs?state=stuck", headers: admin)
            #expect(badState.status == 400)
            #expect(badState.wireError == WireError(error: "bad_query", reason: "state=stuck is not one of available, running, retryable, completed, dead, cancelled"))
            let badLimit = try await curl.request("GET", server.url + "/v1/admin/jobs?limit=0", headers: admin)
            #expect(badLimit.wireError == WireError(error: "bad_query", reason: "limit=0 is not a number from 1 to 1000"))

            let later = try #require(try await queue.jobs(state: nil, receiver: "mail", limit: 1).first)
            let cancelled = try await curl.request("POST", server.url + "/v1/admin/jobs/\(later.id)/cancel", headers: admin)
            #expect(cancelled.status == 200)
            #expect(try cancelled.decode(JobRecord.self).state == .cancelled)
            let again = try await curl.request("POST", server.url + "/v1/admin/jobs/\(later.id)/cancel", headers: admin)
            #expect(again.status == 409)
            #expect(again.wireError == WireError(error: "wrong_state", reason: "job \(later.id) is cancelled; cancel applies to available or retryable jobs only"))
            let unknown = try await curl.request("POST", server.url + "/v1/admin/jobs/99999/retry", headers: admin)
            #expect(unknown.status == 404)
            #expect(unknown.wireError == WireError(error: "not_found", reason: "no job 99999"))
            let badID = try await curl.request("POST", server.url + "/v1/admin/jobs/abc/cancel", headers: admin)
            #expect(badID.wireError == WireError(error: "bad_path", reason: "job id \"abc\" is not a positive number"))

            // Held by another worker, as a claim leaves it.
            let first = try #require(ops.last)
            try await server.database.query("""
                UPDATE jobs SET state = 'running', attempt = 1, lease_owner = 'worker-x', lease_expires_at = now() + interval '1 minute'
                WHERE id = \(first.id)
                """)
            let running = ClaimedJob(id: first.id, kind: "notify", receiver: "ops", args: "{}", attempt: 1, maxAttempts: 10, idempotencyKey: "now-1")
            let busy = try await curl.request("POST", server.url + "/v1/admin/jobs/\(running.id)/cancel", headers: admin)
            #expect(busy.status == 409)
            #expect(busy.wireError == WireError(error: "job_running", reason: "job \(running.id) is running on worker-x; an attempt in flight cannot be recalled: cancel it once the attempt ends"))
            try await queue.finish(running, owner: "worker-x", result: .dead(error: "HTTP 410"), latency: .milliseconds(3),
                                   policy: WorkerSettings().retryPolicy)

            let retried = try await curl.request("POST", server.url + "/v1/admin/jobs/\(later.id)/retry", headers: admin)
            #expect(retried.status == 200)
            #expect(try retried.decode(JobRecord.self).state == .available)
            let noReceiver = try await curl.request("POST", server.url + "/v1/admin/jobs/retry", headers: admin)
            #expect(noReceiver.wireError == WireError(error: "bad_query", reason: "say whose dead jobs to retry: ?receiver=NAME"))
            let all = try await curl.request("POST", server.url + "/v1/admin/jobs/retry?receiver=ops", headers: admin)
            #expect(all.status == 200)
            #expect(String(decoding: all.body, as: UTF8.self) == #"{"receiver":"ops","retried":1}"#)

            let after = try await curl.request("GET", server.url + "/v1/admin/worker/status", headers: admin).decode(WorkerRoutes.Status.self)
            #expect(after.receivers.map { "\($0.receiver) \($0.sent) \($0.failed) \($0.dead)" } == ["ops 0 1 1"])
            #expect(after.window.failed == 1)
        }
    }
}
