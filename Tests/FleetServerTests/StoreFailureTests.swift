import FleetServer
import FleetServerTesting
import Testing
import Wire

/// What the store can do to a request, and the answer that says whether the batch was
/// stored: "nothing was stored", or for a broken COMMIT that it may be.
struct StoreFailureTests {
    struct Case: Sendable, CustomStringConvertible {
        var failure: FleetStoreFailure
        var status: Int
        var retryAfter: String?
        var error: WireError
        var description: String { error.error }
    }

    static let cases: [Case] = [
        Case(failure: .unavailable(detail: "connection refused"), status: 503, retryAfter: "5", error: WireError(
            error: "database_unavailable", reason: "the database is unavailable; nothing was stored; retry later")),
        Case(failure: .timedOut, status: 503, retryAfter: "5", error: WireError(
            error: "database_timeout", reason: "storing the batch took longer than 30 s and was rolled back; nothing was stored; retry later")),
        Case(failure: .commitUnknown(detail: "connection reset"), status: 503, retryAfter: "5", error: WireError(
            error: "commit_unknown", reason:
                "the database connection broke while committing; the batch may be stored; send it again (rows already stored count as duplicates)")),
        Case(failure: .refusedData(sqlState: "22003", detail: "out of range"), status: 400, retryAfter: nil, error: WireError(
            error: "malformed", reason: "the database refused the batch's data (SQLSTATE 22003); nothing was stored")),
        Case(failure: .rejected(sqlState: "42P01", detail: "no such table"), status: 500, retryAfter: nil, error: WireError(
            error: "internal", reason: "the database rejected the operation (SQLSTATE 42P01); nothing was stored")),
    ]

    @Test(arguments: cases) func aFailedStoreSaysWhetherAnythingWasStored(_ expected: Case) async throws {
        try await InProcessServer.with { server, client in
            // Authenticated and started; the store fails while writing.
            let post = try await server.postHeld(through: client)
            server.store.fail(with: expected.failure)
            server.store.release()
            let response = try await post.value
            #expect(response.status.code == expected.status)
            #expect(response.headers[.retryAfter] == expected.retryAfter)
            #expect(response.wireError == expected.error)
        }
    }

    @Test func anUnavailableStoreIs503ForReadsAndHealthz() async throws {
        try await InProcessServer.with(configure: { $0.retryAfterSeconds = 7 }) { server, client in
            server.store.fail(with: FleetStoreFailure.unavailable(detail: "connection refused"))
            let refused = try await client.post(SampleBatches.batch(), token: server.deviceToken)
            #expect(refused.status.code == 503)
            #expect(refused.headers[.retryAfter] == "7")
            #expect(refused.wireError == WireError(error: "database_unavailable", reason: "the database is unavailable; retry later"))
            #expect(try await client.get("/healthz").status.code == 503)

            server.store.fail(with: FleetStoreFailure.rejected(sqlState: "42P01", detail: "no such table"))
            let rejected = try await client.get("/v1/devices", token: InProcessServer.adminToken)
            #expect(rejected.status.code == 500)
            #expect(rejected.wireError == WireError(error: "internal", reason: "the database rejected the operation (SQLSTATE 42P01)"))

            server.store.fail(with: nil)
            #expect(try await client.post(SampleBatches.batch(), token: server.deviceToken).status.code == 200)
        }
    }

    /// A store that gets no connection within `databaseTimeout` is answered 503 at the
    /// deadline, and writes nothing when its connection comes later.
    @Test func aStoreWithoutAConnectionInTimeIs503AndWritesNothing() async throws {
        try await InProcessServer.with(configure: { $0.databaseTimeout = .milliseconds(200) }) { server, client in
            server.store.delayConnections(by: .seconds(2))
            let started = ContinuousClock.now
            let response = try await client.post(SampleBatches.batch(), token: server.deviceToken)
            #expect(ContinuousClock.now - started < .milliseconds(1500))
            #expect(response.status.code == 503)
            #expect(response.wireError == WireError(
                error: "database_unavailable", reason: "no database connection within 0.2 s; nothing was stored; retry later"))
            try await Task.sleep(for: .seconds(2))
            #expect(server.store.startedStores == 0)
            #expect(server.store.readingCount == 0)
        }
    }

    /// A store that has started is waited for past the connection deadline: the batch is
    /// acknowledged because it was stored.
    @Test func aStartedStoreIsAwaitedPastTheConnectionDeadline() async throws {
        try await InProcessServer.with(configure: { $0.databaseTimeout = .milliseconds(200) }) { server, client in
            let post = try await server.postHeld(through: client)
            try await Task.sleep(for: .milliseconds(600))
            server.store.release()
            let answer = try await post.value
            #expect(answer.status.code == 200)
            #expect(try answer.decode(SyncAck.self).readings?.inserted == 5)
        }
    }
}
