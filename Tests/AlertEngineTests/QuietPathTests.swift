import AlertEngine
import EdgeCore
import GRDB
import Testing

@Suite struct QuietPathTests {
    /// `PRAGMA data_version` changes for this connection whenever another connection commits.
    private func dataVersion(_ observer: DatabaseQueue) throws -> Int {
        try observer.read { db in try Int.fetchOne(db, sql: "PRAGMA data_version")! }
    }

    @Test func aReadingThatChangesNothingWritesNothing() throws {
        let h = try Harness()
        let engine = try h.engine([
            AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil)),
            AlertRule(id: "probe", sensorID: "t", condition: .stale(after: .seconds(300))),
        ])
        let observer = try DatabaseQueue(path: h.path)
        let before = try dataVersion(observer)
        for second in 0..<20 { _ = try h.feed(engine, "t", 25 + Double(second) / 100, after: 1) }
        _ = try h.tick(engine, after: 1)
        #expect(try dataVersion(observer) == before)
        #expect(kinds(try h.feed(engine, "t", 28.5, after: 1)) == [.fired])
        #expect(try dataVersion(observer) != before)
    }

    @Test func suspectReadingsNeitherFireNorClear() throws {
        let h = try Harness()
        let engine = try h.engine([AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil))])
        #expect(try engine.evaluate(h.reading("t", 40, quality: .suspect)) == [])
        #expect(try engine.evaluate(h.reading("t", .nan)) == [])
        #expect(kinds(try h.feed(engine, "t", 29, after: 1)) == [.fired])
        #expect(try engine.evaluate(h.reading("t", 20, quality: .suspect)) == [])
        #expect(try h.store.active().map(\.value) == [29])
    }

    @Test func flappingRuleHoldsItsOutputInsteadOfChattering() throws {
        let h = try Harness()
        let relays = RecordingOutputs()
        let rule = AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil),
                             action: .init(output: "heater", state: false), flapping: .init(changes: 2, window: .seconds(60)))
        let engine = try h.engine([rule], outputs: ["heater": OutputPolicy(normal: true, failSafe: false)], driver: relays)
        var events: [AlertEvent.Kind] = []
        for value in [29.0, 27.0, 29.0, 27.0, 29.0, 27.0] { events += kinds(try h.feed(engine, "t", value, after: 10)) }
        #expect(events == [.fired, .actuated, .resolved, .actuated, .flapping, .actuated])
        #expect(relays.calls == ["heater=on", "heater=off", "heater=on", "heater=off"])
        #expect(try h.store.active().map(\.state) == [.flapping])
        #expect(try h.store.history(limit: 1, ruleID: nil).first?.message == "heater off (rule hot flapping)")
        // Still cool 60 s after the last change: flapping ends; the last report was `resolved`
        // and still stands, so only the heater comes back.
        #expect(kinds(try h.tick(engine, after: 59)) == [])
        let ended = try h.tick(engine, after: 1)
        #expect(kinds(ended) == [.flappingEnded, .actuated])
        #expect(ended.last?.message == "heater on (rule hot released)")
        #expect(relays.calls.last == "heater=on")
        #expect(try h.store.active() == [])
    }

    @Test func expiryDoesNotEndASilenceRenewedFromTheCLI() throws {
        let h = try Harness()
        let rule = AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil))
        let daemon = try h.engine([rule])
        _ = try daemon.silence(ruleID: "hot", until: h.start + 60_000)
        let cli = try AlertEngine(rules: [rule], store: try AlertStore(writer: try DatabaseQueue(path: h.path)), clock: h.clock)
        h.clock.advance(by: .seconds(30))
        _ = try cli.silence(ruleID: "hot", until: h.start + 120_000)
        #expect(try h.tick(daemon, after: 30) == [])
        #expect(try h.store.active() == [])
        let ended = try h.tick(daemon, after: 60)
        #expect(ended.map(\.kind) == [.unsilenced])
        #expect(ended.first?.timestampMillis == h.start + 120_000)
    }

    @Test func eventsPageInOrderAndHistoryFilters() throws {
        let h = try Harness()
        let engine = try h.engine([
            AlertRule(id: "a", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil)),
            AlertRule(id: "b", sensorID: "t", condition: .threshold(op: .greater, value: 29, clear: nil)),
        ])
        _ = try h.feed(engine, "t", 30)
        _ = try h.feed(engine, "t", 20, after: 1)
        #expect(try h.store.events(afterSequence: 1, limit: 2).map(\.sequence) == [2, 3])
        #expect(try h.store.events(afterSequence: 1, limit: 2).map(\.ruleID) == ["b", "a"])
        #expect(try h.store.history(limit: 10, ruleID: "b").map(\.sequence) == [4, 2])
        #expect(try h.store.eventBacklog(afterSequence: 0) == 4)
    }
}

@Suite struct ClockStepTests {
    @Test func aWallClockStepNeitherMakesSensorsStaleNorCutsForShort() throws {
        let h = try Harness()
        let engine = try h.engine([
            AlertRule(id: "probe", sensorID: "t", condition: .stale(after: .seconds(300))),
            AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil), holdFor: .seconds(60)),
        ])
        #expect(try h.feed(engine, "t", 29) == [])
        // NTP synchronises a Pi that booted with last week's time.
        h.clock.setWallClock(unixMillis: h.start + 7 * 86_400_000, synchronized: true)
        #expect(try h.tick(engine, after: 30) == [])
        let fired = try h.tick(engine, after: 30)
        #expect(fired.map(\.ruleID) == ["hot"])
        #expect(fired.first?.timestampMillis == h.start + 7 * 86_400_000 + 60_000)
        #expect(try h.tick(engine, after: 239) == [])
        #expect(try h.tick(engine, after: 1).map(\.ruleID) == ["probe"])
    }
}

@Suite struct DatabaseFailureTests {
    @Test func aLockedDatabaseDoesNotStopActionsAndTheEventsComeLater() throws {
        let h = try Harness()
        // No busy timeout, so a held lock fails the engine's write at once.
        let store = try AlertStore(writer: try DatabaseQueue(path: h.path))
        let relays = RecordingOutputs()
        let rule = AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil),
                             action: .init(output: "heater", state: false))
        let engine = try AlertEngine(rules: [rule], store: store, clock: h.clock,
                                     outputs: ["heater": OutputPolicy(normal: true, failSafe: false)], driver: relays)
        var holdsLock = Configuration()
        holdsLock.allowsUnsafeTransactions = true
        let blocker = try DatabaseQueue(path: h.path, configuration: holdsLock)
        try blocker.inDatabase { db in try db.execute(sql: "BEGIN EXCLUSIVE") }
        #expect(throws: (any Error).self) { try h.feed(engine, "t", 29, after: 1) }
        #expect(relays.calls == ["heater=on", "heater=off"])
        try blocker.inDatabase { db in try db.execute(sql: "COMMIT") }

        let retried = try h.feed(engine, "t", 29.1, after: 1)
        #expect(kinds(retried) == [.fired, .actuated])
        #expect(retried.last?.message == "heater off (rule hot fired)")
        #expect(relays.calls == ["heater=on", "heater=off", "heater=off"])
        #expect(try store.events(afterSequence: 0, limit: 10).map(\.kind) == [.actuated, .fired, .actuated])
    }
}
