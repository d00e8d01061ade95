import FleetServer
import FleetServerTesting
import Testing
import Wire

/// The read API's rules in-process: the admin token, failed logins limited per client
/// address, and queries checked before the store is asked.
struct ReadAPITests {
    @Test func unknownDevicesBadQueriesAndDeviceTokensAreRefused() async throws {
        try await InProcessServer.with { server, client in
            let admin = InProcessServer.adminToken
            let unknown = try await client.get("/v1/devices/nope/events", token: admin)
            #expect(unknown.status.code == 404)
            #expect(unknown.wireError == WireError(error: "not_found", reason: "no device named \"nope\""))
            let badLimit = try await client.get("/v1/devices/reef-1/readings?limit=0", token: admin)
            #expect(badLimit.wireError == WireError(error: "bad_query", reason: "limit=0 is not a number from 1 to 10000"))
            let badFrom = try await client.get("/v1/devices/reef-1/events?from=yesterday", token: admin)
            #expect(badFrom.status.code == 400)
            #expect(badFrom.wireError == WireError(error: "bad_query", reason: "from=yesterday is not a Unix time in milliseconds"))
            let deviceToken = try await client.get("/v1/devices", token: server.deviceToken)
            #expect(deviceToken.status.code == 401)
            #expect(deviceToken.wireError == WireError(error: "unauthorized", reason: "the admin API needs Authorization: Bearer <admin token>"))
            let health = try await client.get("/healthz")
            #expect(health.status.code == 200)
            #expect(health.text == #"{"status":"ok"}"#)
        }
    }

    @Test func anUnknownPathIsAWireError() async throws {
        try await InProcessServer.with { _, client in
            let response = try await client.get("/v2/nothing")
            #expect(response.status.code == 404)
            #expect(response.wireError == WireError(error: "not_found", reason: "Not Found"))
        }
    }

    @Test func withoutAnAdminTokenTheReadAPIIsOff() async throws {
        try await InProcessServer.with(configure: { $0.adminTokenHash = nil }) { _, client in
            let response = try await client.get("/v1/devices", token: InProcessServer.adminToken)
            #expect(response.status.code == 403)
            #expect(response.wireError == WireError(error: "forbidden", reason: "the admin API is off; start the server with --admin-token-file"))
        }
    }

    @Test func failedAdminLoginsAreRateLimitedPerClient() async throws {
        try await InProcessServer.with(configure: { $0.adminFailuresAllowed = 3 }) { server, client in
            let adminToken = InProcessServer.adminToken
            for _ in 0..<3 {
                #expect(try await client.get("/v1/devices", token: "not-the-admin-token-at-all").status.code == 401)
            }
            let blocked = try await client.get("/v1/devices", token: adminToken)
            #expect(blocked.status.code == 429)
            #expect(blocked.wireError?.error == "too_many_attempts")
            #expect(blocked.wireError?.reason.hasPrefix("too many failed admin logins from 127.0.0.1; retry in ") == true)
            #expect(Int(blocked.headers[.retryAfter] ?? "") ?? 0 > 50)

            let failures = server.log.lines.filter { $0.contains("admin authentication failed") }
            #expect(failures.count == 3)
            #expect(failures.last.map { ["client=127.0.0.1", "failures=3", "path=/v1/devices", "token=wrong"].allSatisfy($0.contains) } == true)
            #expect(!server.log.lines.contains { $0.contains("not-the-admin-token-at-all") || $0.contains(adminToken) })

            let elsewhere = try await client.get("/v1/devices", token: adminToken, from: "127.0.0.3")
            #expect(elsewhere.status.code == 200)
        }
    }
}
