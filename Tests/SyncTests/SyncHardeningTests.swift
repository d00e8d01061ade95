import EdgeCore
import EdgeTesting
import Foundation
import GRDB
import Readings
import Synchronization
import Testing
@testable import Sync
import Wire
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct SyncHardeningTests {
    // MARK: - Stopping never waits for the network

    /// Posts to `url` in a task, waits until `ready`, cancels, and returns how long the post
    /// took to give up and what it threw. libcurl's own poll backstop is 10 s and its total
    /// timeout 60 s: under 2 s means the cancellation woke the transfer.
    func cancelMidTransfer(_ transport: CurlTransport, ready: () -> Bool) async throws -> (Duration, TransportError?) {
        let task = Task { () -> TransportError? in
            do {
                _ = try await transport.post(batch: Array(repeating: 0x42, count: 2000))
                return nil
            } catch {
                return error as? TransportError
            }
        }
        // In the test process BlockingIO.network is shared by every suite running in parallel,
        // so the transfer may queue behind others' before it starts: waiting for it to start
        // is a precondition with a generous bound, not what is measured.
        let deadline = ContinuousClock.now + .seconds(60)
        while !ready(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(ready())
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        task.cancel()
        let error = await task.value
        return (ContinuousClock.now - start, error)
    }

    @Test func cancellingAbortsAStalledTLSHandshakeAtOnce() async throws {
        let listener = try SilentListener()
        defer { listener.stop() }
        let transport = try CurlTransport(configuration: .init(serverURL: "https://127.0.0.1:\(listener.port)", token: BearerToken("t")))
        let (elapsed, error) = try await cancelMidTransfer(transport) { listener.bytes > 0 }
        #expect(error == TransportError(.cancelled, "request abandoned: the sync task was cancelled"))
        #expect(elapsed < .seconds(2), "took \(elapsed)")
    }

    @Test func cancellingAbortsARequestWhoseAnswerHangs() async throws {
        let listener = try SilentListener()
        defer { listener.stop() }
        let transport = try CurlTransport(configuration: .init(serverURL: "http://127.0.0.1:\(listener.port)", token: BearerToken("t"),
                                                               allowInsecureHTTP: true))
        // The whole request (headers and the 2000-byte body) has arrived: only the answer is missing.
        let (elapsed, error) = try await cancelMidTransfer(transport) { listener.bytes > 2000 }
        #expect(error?.kind == .cancelled)
        #expect(elapsed < .seconds(2), "took \(elapsed)")
    }

    @Test func aCancelledPostRecordsNoFailureAndEndsRun() async throws {
        let listener = try SilentListener()
        defer { listener.stop() }
        let transport = try CurlTransport(configuration: .init(serverURL: "https://127.0.0.1:\(listener.port)", token: BearerToken("t")))
        let fixture = try SyncFixture(readings: 3, over: transport)
        let engine = fixture.engine
        let run = Task { try await engine.run() }
        let deadline = ContinuousClock.now + .seconds(10)
        while listener.bytes == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        run.cancel()
        await #expect(throws: CancellationError.self) { try await run.value }
        let status = try await fixture.engine.status()
        #expect(status.consecutiveFailures == 0)
        #expect(status.lastError == nil)
        #expect(status.readings.ackedThrough == 0)
    }

    // MARK: - Plain HTTP and passwords in URLs

    @Test func plainHTTPIsRefusedUnlessAllowedToALoopbackAddress() throws {
        func make(_ url: String, allow: Bool) throws -> CurlTransport {
            try CurlTransport(configuration: .init(serverURL: url, token: BearerToken("t"), allowInsecureHTTP: allow))
        }
        #expect(throws: CurlTransport.SetupError.insecureURL("http://fleet.example:8080")) { try make("http://fleet.example:8080", allow: false) }
        #expect(throws: CurlTransport.SetupError.insecureURL("http://fleet.example:8080")) { try make("http://fleet.example:8080", allow: true) }
        #expect(throws: CurlTransport.SetupError.insecureURL("http://127.0.0.1:8080")) { try make("http://127.0.0.1:8080", allow: false) }
        #expect(throws: CurlTransport.SetupError.insecureURL("http://***@10.0.0.5")) { try make("http://u:hunter2@10.0.0.5", allow: true) }
        #expect(throws: CurlTransport.SetupError.invalidURL("ftp://fleet.example")) { try make("ftp://fleet.example", allow: true) }
        _ = try make("http://127.0.0.1:8080", allow: true)
        _ = try make("http://localhost:8080", allow: true)
        _ = try make("http://[::1]:8080", allow: true)
        #expect(CurlTransport.SetupError.insecureURL("http://fleet.example").description
            == "server URL http://fleet.example is plain http://, which would send the device token in clear; use https:// (http:// is allowed only to a loopback address with allow_insecure_http, for a local test server)")
    }

    @Test func aPasswordInTheURLIsNeverShown() throws {
        #expect(SyncURL.redacted("https://reef:hunter2@fleet.example:8443/base") == "https://***@fleet.example:8443/base")
        #expect(SyncURL.redacted("https://fleet.example:8443/a@b") == "https://fleet.example:8443/a@b")
        #expect(SyncURL.redacted("https://fleet.example") == "https://fleet.example")
        #expect(SyncURL.redacted("https://a@b:c@fleet.example?x=@") == "https://***@fleet.example?x=@")
        let transport = try CurlTransport(configuration: .init(serverURL: "https://reef:hunter2@fleet.example", token: BearerToken("t")))
        #expect(transport.description == "CurlTransport(https://***@fleet.example, token: <redacted>, ca: system, client cert: none)")
        #expect(SyncURL.isLoopback("http://127.0.0.1:1") && SyncURL.isLoopback("http://127.9.8.7") && SyncURL.isLoopback("http://[::1]:80"))
        #expect(!SyncURL.isLoopback("http://127.0.0.1.example.com") && !SyncURL.isLoopback("http://128.0.0.1")
            && !SyncURL.isLoopback("http://localhost.evil"))
    }

    // MARK: - Nothing is sent before it is durable

    /// What a power cut that also lost the WAL would leave: the main database file alone.
    func readingsInTheDatabaseFileAlone(_ path: String) throws -> [Int64] {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("main-only-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: copy + suffix) } }
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let queue = try DatabaseQueue(path: copy)
        return try queue.read { db in
            guard try db.tableExists("readings") else { return [] }
            return try Int64.fetchAll(db, sql: "SELECT sequence FROM readings ORDER BY sequence")
        }
    }

    @Test func onlyRowsAlreadyInTheDatabaseFileAreSent() async throws {
        let fixture = try SyncFixture(readings: 4, configure: { $0.maxBatchRows = 100 })
        // Committed, but only in the WAL: a power cut could still take them back.
        #expect(try readingsInTheDatabaseFileAlone(fixture.directory.databasePath) == [])
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 4, quarantined: false))
        #expect(fixture.transport.batches[0].readings?.sequence == [1, 2, 3, 4])
        #expect(try readingsInTheDatabaseFileAlone(fixture.directory.databasePath) == [1, 2, 3, 4])
    }

    @Test func aReaderThatHoldsTheCheckpointBackHoldsTheRowsBack() async throws {
        let fixture = try SyncFixture(readings: 2, configure: { $0.maxBatchRows = 100 })
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 2, quarantined: false))
        // Another process reads an older snapshot and keeps it past the busy timeout.
        let reading = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        let other = try DatabaseQueue(path: fixture.directory.databasePath)
        Thread.detachNewThread {
            try? other.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN")
                _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM readings")
                reading.signal()
                done.wait()
                try db.execute(sql: "COMMIT")
            }
            finished.signal()
        }
        reading.wait()
        try fixture.store.append(Sample(sensorID: "tank", value: 31, unit: "°C", quality: .ok, time: fixture.clock.now()))
        try fixture.store.flush()
        #expect(try await fixture.engine.step(holdUnsynced: true) == .idle)
        #expect(fixture.transport.batches.count == 1)
        done.signal()
        finished.wait()
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 1, quarantined: false))
        #expect(fixture.transport.batches[1].readings?.value == [31])
    }

    @Test func aStoreWhoseSequencesWentBackwardsTakesANewIdentityAndSendsEverythingAgain() async throws {
        let fixture = try SyncFixture(readings: 6, configure: { $0.maxBatchRows = 100 })
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 6, quarantined: false))
        let oldID = fixture.database.storeID
        // The readings lost their tail while the ledger kept its acknowledgement (a restored
        // or damaged file): sequence 3 will be issued again, to a different reading.
        try await fixture.database.writer.write { db in
            try db.execute(sql: "DELETE FROM readings WHERE sequence > 2")
            try db.execute(sql: "UPDATE sqlite_sequence SET seq = 2 WHERE name = 'readings'")
        }
        try fixture.store.append(Sample(sensorID: "tank", value: 99, unit: "°C", quality: .ok, time: fixture.clock.now()))
        try fixture.store.flush()

        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 3, quarantined: false))
        let batch = fixture.transport.batches[1]
        #expect(batch.storeID != oldID)
        #expect(batch.storeID == fixture.database.storeID)
        #expect(batch.readings?.range == SequenceRange(first: 1, last: 3))
        #expect(batch.readings?.value == [25, 25.01, 99])
        #expect(fixture.database.identityResets.count == 1, "\(fixture.database.identityResets)")
        #expect(fixture.database.identityResets.first?.contains(
            "the sync ledger has readings through #6 on the server but this store has issued only through #3") == true,
            "\(fixture.database.identityResets)")
        #expect(try await fixture.engine.status().readings.ackedThrough == 3)
    }

    @Test func theCheckRunsWhenTheEngineStartsBeforeNewReadingsReachTheOldCursor() async throws {
        let fixture = try SyncFixture(readings: 4, configure: { $0.maxBatchRows = 100 })
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 4, quarantined: false))
        let oldID = fixture.database.storeID
        try await fixture.database.writer.write { db in
            try db.execute(sql: "DELETE FROM readings WHERE sequence > 1")
            try db.execute(sql: "UPDATE sqlite_sequence SET seq = 1 WHERE name = 'readings'")
        }
        _ = try SyncEngine(configuration: await fixture.engine.configuration, database: fixture.database, readings: fixture.store.queries,
                           events: nil, transport: ScriptedTransport(), health: FixedHealth(), clock: fixture.clock)
        #expect(fixture.database.storeID != oldID)
        #expect(try SyncStatus.read(database: fixture.database, readings: fixture.store.queries, events: nil)?.readings.ackedThrough == 0)
    }

    // MARK: - The clock hold survives restarts

    @Test func theClockHoldStartsWhenTheFirstHeldReadingWasTakenNotAtEachRestart() async throws {
        let fixture = try SyncFixture(readings: 0)
        fixture.clock.base.setWallClock(unixMillis: syncEpoch - 86_400_000, synchronized: false)
        for index in 0..<3 {
            try fixture.store.append(Sample(sensorID: "tank", value: 26 + Double(index), unit: "°C", quality: .ok, time: fixture.clock.now()))
            fixture.clock.base.advance(by: .seconds(1))
        }
        try fixture.store.flush()
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 0, quarantined: false))
        #expect(fixture.transport.batches[0].readings == nil)

        // The agent restarts 9 minutes later, on the same boot, its clock still not synchronised.
        fixture.clock.base.advance(by: .seconds(9 * 60))
        let database = try LocalDatabase.open(path: fixture.directory.databasePath, clock: fixture.clock)
        let store = try ReadingWriter(database: database, clock: fixture.clock)
        let transport = ScriptedTransport()
        let engine = try SyncEngine(configuration: await fixture.engine.configuration, database: database, readings: store.queries,
                                    events: nil, transport: transport,
                                    health: try SyncTestHealth().feed(database: database, store: store, clock: fixture.clock), clock: fixture.clock)
        #expect(try await engine.step(holdUnsynced: true) == .progressed(sent: 0, quarantined: false))
        let health = try #require(transport.batches[0].health)
        #expect(health.status == .degraded)
        #expect(health.reasons == [
            "3 readings held back until the wall clock is synchronised, so they get true timestamps; sent with provisional timestamps in 57 s if it is not",
        ])

        fixture.clock.base.advance(by: .seconds(57))
        #expect(try await engine.step(holdUnsynced: true) == .progressed(sent: 3, quarantined: false))
        #expect(transport.batches[1].readings?.value == [26, 27, 28])
        #expect(transport.batches[1].readings?.quality == ["ok", "ok", "ok"])
        #expect(transport.batches[1].readings?.clockUnsynced == [true, true, true])
    }

    // MARK: - A failing sync is reported at once

    @Test func aFailingSyncMakesTheDeviceDegradedAtOnceAndASuccessClearsIt() async throws {
        let fixture = try SyncFixture(readings: 2, script: [
            .status(401, error: WireError(error: "unauthorized", reason: "unknown token")),
            .fail(TransportError(.tls, "SSL certificate problem: unable to get local issuer certificate (curl 60)")),
        ])
        _ = try await fixture.engine.step(holdUnsynced: true)
        var health = try #require(fixture.health.latestReport())
        #expect(health.status == .degraded)
        #expect(health.reasons == ["sync failing (1 attempts in a row, never synced): HTTP 401: unauthorized: unknown token"])

        _ = try await fixture.engine.step(holdUnsynced: true)
        health = try #require(fixture.health.latestReport())
        #expect(health.reasons == [
            "sync failing (2 attempts in a row, never synced): tls error: SSL certificate problem: unable to get local issuer certificate (curl 60)",
        ])

        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 2, quarantined: false))
        health = try #require(fixture.health.latestReport())
        #expect(health.status == .healthy)
        #expect(health.reasons == [])
    }
}
