import EdgeCore
import Foundation
import GRDB
import Readings
import Synchronization
import Testing
@testable import Sync
import Wire

@Suite struct SyncEngineTests {
    @Test func eventsGoFirstThenTheOldestReadingsAndCursorsFollowTheAck() async throws {
        let fixture = try SyncFixture(readings: 8, events: 2)
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 5, quarantined: false))

        let batch = try #require(fixture.transport.batches.first)
        #expect(batch.deviceID == "reef-1")
        #expect(batch.storeID == fixture.database.storeID)
        #expect(batch.events?.range == SequenceRange(first: 1, last: 2))
        #expect(batch.events?.events.map(\.sequence) == [1, 2])
        let readings = try #require(batch.readings)
        #expect(readings.range == SequenceRange(first: 1, last: 3))
        #expect(readings.sensors == ["tank"])
        #expect(readings.units == ["°C"])
        #expect(readings.sequence == [1, 2, 3])
        #expect(readings.sensor == [0, 0, 0])
        #expect(readings.timestampMillis == [syncEpoch, syncEpoch + 1000, syncEpoch + 2000])
        #expect(readings.value == [25, 25.01, 25.02])
        #expect(readings.quality == ["ok", "ok", "ok"])
        #expect(batch.health != nil)

        let status = try await fixture.engine.status()
        #expect(status.readings.ackedThrough == 3)
        #expect(status.events.ackedThrough == 2)
        #expect(status.readings.backlogRows == 5)
        #expect(status.readings.backlogOldestMillis == syncEpoch + 3000)
        #expect(status.events.backlogRows == 0)
        #expect(status.lastSuccessMillis == syncEpoch)
        #expect(status.readings.rowsInserted == 3)
        #expect(status.events.rowsInserted == 2)

        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 5, quarantined: false))
        #expect(fixture.transport.batches[1].events == nil)
        #expect(fixture.transport.batches[1].health == nil)
        #expect(fixture.transport.batches[1].readings?.range == SequenceRange(first: 4, last: 8))
        #expect(try await fixture.engine.step(holdUnsynced: true) == .idle)
        #expect(try await fixture.engine.status().readings.ackedThrough == 8)
    }

    @Test func failuresLeaveTheCursorAndResendTheSameRows() async throws {
        let fixture = try SyncFixture(readings: 3, script: [
            .fail(TransportError(.network, "Connection refused")),
            .status(500, error: WireError(error: "internal", reason: "database unavailable")),
        ])
        guard case .failed(_, let first, nil) = try await fixture.engine.step(holdUnsynced: true) else {
            Issue.record("first attempt should fail"); return
        }
        #expect(first == "network error: Connection refused")
        guard case .failed(_, let second, nil) = try await fixture.engine.step(holdUnsynced: true) else {
            Issue.record("second attempt should fail"); return
        }
        #expect(second == "HTTP 500: internal: database unavailable")

        var status = try await fixture.engine.status()
        #expect(status.readings.ackedThrough == 0)
        #expect(status.consecutiveFailures == 2)
        #expect(status.lastError == "HTTP 500: internal: database unavailable")
        #expect(status.lastSuccessMillis == nil)

        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 3, quarantined: false))
        #expect(fixture.transport.batches.map { $0.readings?.range } == Array(repeating: SequenceRange(first: 1, last: 3), count: 3))
        status = try await fixture.engine.status()
        #expect(status.readings.ackedThrough == 3)
        #expect(status.consecutiveFailures == 0)
        #expect(status.nextAttemptMillis == nil)
    }

    @Test func anAckThatDoesNotMatchTheBatchMovesNothing() async throws {
        let fixture = try SyncFixture(readings: 3, script: [.status(200, retryAfter: nil, error: nil)])
        guard case .failed(_, let reason, nil) = try await fixture.engine.step(holdUnsynced: true) else {
            Issue.record("an unreadable ack must not count"); return
        }
        #expect(reason == "server answered 200 without a readable acknowledgement")
        #expect(try await fixture.engine.status().readings.ackedThrough == 0)
    }

    @Test func a413HalvesTheBatchUntilTheServerTakesIt() async throws {
        let fixture = try SyncFixture(readings: 12, script: [.status(413), .status(413)], configure: { $0.maxBatchRows = 8 })
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 0, quarantined: false))
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 0, quarantined: false))
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 2, quarantined: false))
        // After an ack the configured size comes back.
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 8, quarantined: false))
        #expect(fixture.transport.batches.compactMap { $0.readings?.range } == [
            SequenceRange(first: 1, last: 8), SequenceRange(first: 1, last: 4), SequenceRange(first: 1, last: 2),
            SequenceRange(first: 3, last: 10),
        ])
        #expect(try await fixture.engine.status().deadLetters == [])
    }

    @Test func a413OnASingleRowQuarantinesIt() async throws {
        let fixture = try SyncFixture(readings: 2, script: [.status(413), .status(413)], configure: { $0.maxBatchRows = 2 })
        _ = try await fixture.engine.step(holdUnsynced: true)
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 0, quarantined: true))
        let letters = try await fixture.engine.status().deadLetters
        #expect(letters.map(\.readings) == [SequenceRange(first: 1, last: 1)])
        #expect(letters.map(\.httpStatus) == [413])
    }

    @Test func anotherClientErrorQuarantinesTheBatchKeepsItsRowsAndMovesOn() async throws {
        let fixture = try SyncFixture(readings: 7, events: 1, script: [
            .status(422, error: WireError(error: "invalid_batch", reason: "readings.quality[0] = \"odd\" is not one of [...]")),
        ])
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 0, quarantined: true))
        var status = try await fixture.engine.status()
        #expect(status.deadLetters == [DeadLetter(
            id: 1, readings: SequenceRange(first: 1, last: 4), events: SequenceRange(first: 1, last: 1), httpStatus: 422,
            reason: "invalid_batch: readings.quality[0] = \"odd\" is not one of [...]", atMillis: syncEpoch)])
        #expect(status.readings.ackedThrough == 0)
        #expect(status.readings.skippedThrough == 4)
        #expect(status.lastError == "quarantined (HTTP 422): invalid_batch: readings.quality[0] = \"odd\" is not one of [...]")
        // Retention must keep the quarantined rows; they are all still in the database.
        #expect(try await fixture.engine.retentionFloor() == 0)
        #expect(try fixture.store.queries.backlog(afterSequence: 0).count == 7)

        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 3, quarantined: false))
        #expect(fixture.transport.batches[1].readings?.range == SequenceRange(first: 5, last: 7))
        #expect(try await fixture.engine.retentionFloor() == 0)
        #expect(try await fixture.engine.step(holdUnsynced: true) == .idle)

        // The operator re-queues: the quarantined rows go again, then the rest as duplicates.
        #expect(try await fixture.engine.requeueDeadLetters() == 1)
        status = try await fixture.engine.status()
        #expect(status.deadLetters == [])
        #expect(status.readings.ackedThrough == 0)
        #expect(status.events.ackedThrough == 0)
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 5, quarantined: false))
        #expect(fixture.transport.batches[2].readings?.range == SequenceRange(first: 1, last: 4))
        #expect(fixture.transport.batches[2].events?.range == SequenceRange(first: 1, last: 1))
        #expect(try await fixture.engine.retentionFloor() == 4)
    }

    @Test func aRefusedTokenQuarantinesNothingAndWaitsTheCap() async throws {
        let fixture = try SyncFixture(readings: 3, script: [
            .status(401, error: WireError(error: "unauthorized", reason: "unknown device token")),
            .status(401, error: WireError(error: "unauthorized", reason: "unknown device token")),
        ])
        #expect(try await fixture.engine.step(holdUnsynced: true)
                == .failed(delay: .seconds(60), reason: "HTTP 401: unauthorized: unknown device token", credentials: 401))
        await #expect(throws: SyncError.credentialsRejected(status: 401, reason: "HTTP 401: unauthorized: unknown device token")) {
            try await fixture.engine.syncOnce()
        }
        let status = try await fixture.engine.status()
        #expect(status.deadLetters == [])
        #expect(status.readings.ackedThrough == 0)
        #expect(status.readings.backlogRows == 3)
        #expect(status.lastError == "HTTP 401: unauthorized: unknown device token")
    }

    @Test func runSleepsTheJitteredBackoffOrTheServersRetryAfter() async throws {
        let fixture = try SyncFixture(readings: 4, script: [
            .status(500),
            .status(429, retryAfter: "7"),
            .fail(TransportError(.network, "Connection reset by peer")),
            .status(503, retryAfter: "Thu, 01 Jan 2026 01:00:00 GMT"),
        ], stop: { $0 == .seconds(10) })
        await #expect(throws: CancellationError.self) { try await fixture.engine.run() }

        var expected = Backoff(base: .seconds(1), cap: .seconds(60))
        var random = SeededRandom(seed: 7)
        let jitter = (0..<4).map { _ in expected.nextDelay(using: &random) }
        // Retry-After replaces the jitter (the failure still counts), capped at retryAfterCap.
        #expect(fixture.clock.sleeps == [jitter[0], .seconds(7), jitter[2], .seconds(120)])
        #expect(fixture.transport.batches.count == 5)
        #expect(Set(fixture.transport.batches.map { $0.readings?.range }) == [SequenceRange(first: 1, last: 4)])
        #expect(try await fixture.engine.status().readings.ackedThrough == 4)
    }

    @Test func quarantinesInARowArePacedByTheBackoff() async throws {
        let fixture = try SyncFixture(readings: 15, script: [.status(400), .status(400), .status(400)],
                                      stop: { $0 == .seconds(10) })
        await #expect(throws: CancellationError.self) { try await fixture.engine.run() }
        var expected = Backoff(base: .seconds(1), cap: .seconds(60))
        var random = SeededRandom(seed: 7)
        let jitter = (0..<3).map { _ in expected.nextDelay(using: &random) }
        #expect(fixture.clock.sleeps == jitter)
        let status = try await fixture.engine.status()
        #expect(status.deadLetters.map(\.readings) == [
            SequenceRange(first: 1, last: 5), SequenceRange(first: 6, last: 10), SequenceRange(first: 11, last: 15),
        ])
        #expect(status.readings.ackedThrough == 0)
        #expect(try fixture.store.queries.backlog(afterSequence: 0).count == 15)
    }

    @Test func aConfigurationThatCannotWorkIsRefusedWithTheFix() throws {
        #expect(throws: SyncError.invalidConfiguration("sync max batch rows 0 is outside 1...100000")) {
            _ = try SyncFixture(readings: 0, configure: { $0.maxBatchRows = 0 })
        }
        #expect(throws: SyncError.invalidConfiguration("sync device id must be 1 to 128 bytes")) {
            _ = try SyncFixture(readings: 0, configure: { $0.deviceID = "" })
        }
    }

    @Test func anotherProcessReadsTheSameStatusFromTheDatabase() async throws {
        let fixture = try SyncFixture(readings: 7, events: 2)
        _ = try await fixture.engine.step(holdUnsynced: true)
        let reader = try LocalDatabase.openReadOnly(path: fixture.directory.databasePath)
        let status = try #require(try SyncStatus.read(database: reader, readings: ReadingQueries(database: reader, bootID: nil),
                                                      events: fixture.events))
        #expect(status == (try await fixture.engine.status()))
        #expect(status.readings.ackedThrough == 3)
        #expect(status.readings.backlogRows == 4)
    }

    @Test func syncOnceReportsProgressAndEmptiesTheBacklog() async throws {
        let fixture = try SyncFixture(readings: 12, events: 1, script: [.status(503)])
        let seen = Mutex<[SyncProgress]>([])
        let result = try await fixture.engine.syncOnce { progress in seen.withLock { $0.append(progress) } }
        #expect(result == SyncProgress(rowsSent: 13, rowsRemaining: 0, quarantined: 0))
        #expect(seen.withLock { $0 }.map { [$0.rowsSent, $0.rowsRemaining] } == [[0, 13], [5, 8], [10, 3], [13, 0]])
        #expect(fixture.clock.sleeps.count == 1)
    }

    @Test func syncOnceGivesUpAfterTheConfiguredFailures() async throws {
        let fixture = try SyncFixture(readings: 1, script: Array(repeating: .status(502), count: 3))
        await #expect(throws: SyncError.gaveUp(failures: 3, reason: "HTTP 502: no reason given")) {
            try await fixture.engine.syncOnce(maxConsecutiveFailures: 3)
        }
        #expect(fixture.clock.sleeps.count == 2)
        #expect(try await fixture.engine.status().readings.ackedThrough == 0)
    }

    @Test func aBodyOverTheByteCapIsHalvedBeforeSending() async throws {
        let fixture = try SyncFixture(readings: 4000, configure: { $0.maxBatchRows = 4000; $0.maxBatchBytes = 8 * 1024 })
        _ = try await fixture.engine.step(holdUnsynced: true)
        let first = try #require(fixture.transport.batches.first?.readings)
        #expect(first.range.first == 1)
        #expect(first.count < 4000)
        #expect(try WireCodec.encode(fixture.transport.batches[0]).count <= 8 * 1024)
        // Halving stops at the first size that fits: twice as many rows did not.
        let twice = BatchBuilder.readingBlock(try fixture.store.queries.readings(afterSequence: 0, limit: first.count * 2), after: 0)
        let bigger = SyncBatch(deviceID: "reef-1", storeID: fixture.database.storeID, readings: twice,
                               health: fixture.transport.batches[0].health)
        #expect(try WireCodec.encode(bigger).count > 8 * 1024)
    }

    @Test func unsyncedReadingsOfThisBootWaitForTheirTimestampsButNotForever() async throws {
        let fixture = try SyncFixture(readings: 2, configure: { $0.clockHold = .seconds(30) })
        fixture.clock.base.setWallClock(unixMillis: syncEpoch - 86_400_000, synchronized: false)
        try fixture.store.append(Sample(sensorID: "tank", value: 26, unit: "°C", quality: .ok, time: fixture.clock.now()))
        try fixture.store.flush()

        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 2, quarantined: false))
        #expect(fixture.transport.batches[0].readings?.range == SequenceRange(first: 1, last: 2))
        #expect(try await fixture.engine.step(holdUnsynced: true) == .idle)

        // Held until the clock is fixed; once re-stamped, it goes with the corrected time.
        fixture.clock.base.advance(by: .seconds(10))
        fixture.clock.base.setWallClock(unixMillis: syncEpoch + 10_000, synchronized: true)
        try fixture.store.synchronizeClock()
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 1, quarantined: false))
        #expect(fixture.transport.batches[1].readings?.timestampMillis == [syncEpoch])
        #expect(fixture.transport.batches[1].readings?.quality == ["ok"])
    }

    @Test func unsyncedReadingsGoProvisionallyAfterTheHold() async throws {
        let fixture = try SyncFixture(readings: 0, configure: { $0.clockHold = .seconds(30) })
        fixture.clock.base.setWallClock(unixMillis: syncEpoch - 86_400_000, synchronized: false)
        try fixture.store.append(Sample(sensorID: "tank", value: 26, unit: "°C", quality: .ok, time: fixture.clock.now()))
        try fixture.store.flush()
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 0, quarantined: false))
        #expect(fixture.transport.batches[0].readings == nil)
        fixture.clock.base.advance(by: .seconds(30))
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 1, quarantined: false))
        #expect(fixture.transport.batches[1].readings?.quality == ["ok"])
        #expect(fixture.transport.batches[1].readings?.clockUnsynced == [true])
        #expect(fixture.transport.batches[1].readings?.timestampMillis == [syncEpoch - 86_400_000])
    }

    @Test func afterSyncOnceSentUnsyncedReadingsNewerOnesAreNotHeld() async throws {
        let fixture = try SyncFixture(readings: 0, configure: { $0.clockHold = .seconds(30) })
        fixture.clock.base.setWallClock(unixMillis: syncEpoch - 86_400_000, synchronized: false)
        try fixture.store.append(Sample(sensorID: "tank", value: 26, unit: "°C", quality: .ok, time: fixture.clock.now()))
        try fixture.store.flush()
        #expect(try await fixture.engine.syncOnce().rowsSent == 1)
        try fixture.store.append(Sample(sensorID: "tank", value: 26.5, unit: "°C", quality: .ok, time: fixture.clock.now()))
        try fixture.store.flush()
        #expect(try await fixture.engine.step(holdUnsynced: true) == .progressed(sent: 1, quarantined: false))
        #expect(fixture.transport.batches.compactMap { $0.readings?.range } == [
            SequenceRange(first: 1, last: 1), SequenceRange(first: 2, last: 2),
        ])
    }

    @Test func healthCarriesWhatSyncKnowsAndItsReasons() async throws {
        let fixture = try SyncFixture(readings: 6, script: [.status(400, error: WireError(error: "invalid", reason: "no"))],
                                      configure: { $0.healthInterval = .seconds(60) },
                                      health: SyncTestHealth(staleBacklog: .seconds(1), sensors: [
                                          SensorHealth(id: "tank", state: .ok, errorCount: 0, errorsByKind: [:], lastError: nil, lastReadingAgeSeconds: 1),
                                          SensorHealth(id: "ph", state: .failing, errorCount: 3, errorsByKind: ["noDevice": 3],
                                                       lastError: "no device at 0x63", lastReadingAgeSeconds: nil),
                                      ]))
        _ = try await fixture.engine.step(holdUnsynced: true) // quarantined, health not stored
        fixture.clock.base.advance(by: .seconds(120))
        let bytesBefore = fixture.database.bytesOnDisk()
        _ = try await fixture.engine.step(holdUnsynced: true)
        let health = try #require(fixture.transport.batches[1].health)
        #expect(health.status == .degraded)
        #expect(health.reasons == [
            "sensor ph is failing: no device at 0x63",
            "1 readings waiting to sync, the oldest 1 min old",
            "1 batches quarantined; see `edge-agent status`",
        ])
        #expect(health.version == "1.0.0-test")
        #expect(health.bootID == "test-boot")
        #expect(health.takenAtMillis == syncEpoch + 120_000)
        #expect(health.uptimeSeconds == 126)
        // Quarantined rows are not backlog: they wait for an operator, not for the network.
        #expect(health.backlogRows == 1)
        #expect(health.backlogOldestMillis == syncEpoch + 5000)
        #expect(health.deadLetteredBatches == 1)
        #expect(health.lastSyncMillis == nil)
        #expect(health.firingAlerts == 1)
        #expect(health.databaseBytes >= bytesBefore && health.databaseBytes <= fixture.database.bytesOnDisk())
        #expect(health.rssBytes > 0)
        // Health was stored with that batch: the next one, a minute later, carries none.
        _ = try await fixture.engine.step(holdUnsynced: true)
        #expect(fixture.transport.batches.count == 2)
    }

    /// The engine carries the agent's report and builds none: without one yet the batch goes
    /// without health, and the next batch asks again.
    @Test func aBatchGoesWithoutHealthUntilTheFeedHasAReport() async throws {
        let fixture = try SyncFixture(readings: 2, configure: { $0.maxBatchRows = 1 })
        let feed = QueuedHealth([nil, FixedHealth().latestReport()])
        let transport = ScriptedTransport()
        let engine = try SyncEngine(configuration: await fixture.engine.configuration, database: fixture.database,
                                    readings: fixture.store.queries, events: nil, transport: transport, health: feed,
                                    clock: fixture.clock)
        #expect(try await engine.step(holdUnsynced: true) == .progressed(sent: 1, quarantined: false))
        #expect(try await engine.step(holdUnsynced: true) == .progressed(sent: 1, quarantined: false))
        #expect(transport.batches.map { $0.health } == [nil, FixedHealth().latestReport()])
        #expect(feed.asked == 2)
    }
}

/// Hands out the queued reports one per question, then none.
final class QueuedHealth: HealthFeed {
    private let state: Mutex<(queue: [HealthReport?], asked: Int)>

    init(_ queue: [HealthReport?]) { state = Mutex((queue, 0)) }

    var asked: Int { state.withLock { $0.asked } }

    func latestReport() -> HealthReport? {
        state.withLock { state in
            state.asked += 1
            return state.queue.isEmpty ? nil : state.queue.removeFirst()
        }
    }
}
