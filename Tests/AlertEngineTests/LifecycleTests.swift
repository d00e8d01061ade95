import AlertEngine
import EdgeCore
import Testing

@Suite struct LifecycleTests {
    let hot = AlertRule(id: "tank_hot", sensorID: "tank_temp", condition: .threshold(op: .greater, value: 28, clear: 27.5),
                        severity: .critical)

    @Test func restartKeepsAFiringRuleWithoutASecondFired() throws {
        let h = try Harness()
        let before = try h.engine([hot])
        #expect(kinds(try h.feed(before, "tank_temp", 28.4)) == [.fired])
        try h.writer.close()

        // A new process: the same file opened afresh.
        let store = try AlertStore(writer: try Harness.open(h.path))
        let after = try AlertEngine(rules: [hot], store: store, clock: h.clock)
        #expect(try store.active().map(\.state) == [.firing])
        #expect(try store.active().map(\.sinceMillis) == [h.start])
        h.clock.advance(by: .seconds(60))
        #expect(try after.evaluate(h.reading("tank_temp", 28.6)) == [])
        // Inside the deadband: the restored firing state keeps the clear edge in force.
        #expect(try after.evaluate(h.reading("tank_temp", 27.8)) == [])
        h.clock.advance(by: .seconds(60))
        let resolved = try after.evaluate(h.reading("tank_temp", 27.2))
        #expect(resolved.map(\.kind) == [.resolved])
        #expect(resolved.first?.sequence == 2)
        #expect(resolved.first?.activeSinceMillis == h.start)
        #expect(try store.events(afterSequence: 0, limit: 10).map(\.kind) == [.fired, .resolved])
    }

    @Test func aRuleRemovedFromTheProfileIsResolvedAndForgotten() throws {
        let h = try Harness()
        let leak = AlertRule(id: "leak", sensorID: "leak", condition: .switchState(active: true))
        #expect(kinds(try h.feed(try h.engine([hot, leak]), "tank_temp", 29)) == [.fired])
        h.clock.advance(by: .seconds(5))
        _ = try h.engine([leak])
        let last = try h.store.history(limit: 1, ruleID: nil)
        #expect(last.map(\.kind) == [.resolved])
        #expect(last.first?.message == "Resolved: rule tank_hot was removed from the profile")
        #expect(last.first?.activeSinceMillis == h.start)
        #expect(try h.store.active() == [])
        #expect(throws: AlertEngineError.duplicateRule("leak")) { try h.engine([leak, leak]) }
    }

    @Test func restartResumesAPendingRuleFromItsStart() throws {
        let h = try Harness()
        let rule = AlertRule(id: "leak", sensorID: "leak", condition: .switchState(active: true), holdFor: .seconds(30))
        #expect(try h.feed(try h.engine([rule]), "leak", 1, unit: "state") == [])
        let restarted = try h.engine([rule])
        #expect(try h.tick(restarted, after: 29) == [])
        let fired = try h.tick(restarted, after: 1)
        #expect(kinds(fired) == [.fired])
        #expect(fired.first?.timestampMillis == h.start + 30_000)
    }

    @Test func silencedRuleStillRecordsMarkedSilencedUntilItExpires() throws {
        let h = try Harness()
        let engine = try h.engine([hot])
        let silenced = try engine.silence(ruleID: "tank_hot", until: h.start + 3_600_000)
        #expect(silenced.kind == .silenced)
        #expect(silenced.message == "Silenced tank_hot until 2026-01-01T01:00:00Z")
        let fired = try h.feed(engine, "tank_temp", 29, after: 60)
        #expect(kinds(fired) == [.fired])
        #expect(fired.first?.silenced == true)
        #expect(try h.store.active().first?.silencedUntilMillis == h.start + 3_600_000)
        #expect(try h.tick(engine, after: 3_539) == [])
        let expired = try h.tick(engine, after: 1)
        #expect(kinds(expired) == [.unsilenced])
        #expect(expired.first?.timestampMillis == h.start + 3_600_000)
        #expect(try h.tick(engine, after: 60) == [])
        let resolved = try h.feed(engine, "tank_temp", 27, after: 1)
        #expect(resolved.first?.silenced == false)
        #expect(throws: AlertEngineError.expiryInPast(until: h.now, now: h.now)) { try engine.silence(ruleID: "tank_hot", until: h.now) }
        #expect(throws: AlertEngineError.unknownRule("nope")) { try engine.silence(ruleID: "nope", until: h.now + 1) }
    }

    @Test func maintenanceSilencesEveryRuleUntilItEnds() throws {
        let h = try Harness()
        let leak = AlertRule(id: "leak", sensorID: "leak", condition: .switchState(active: true))
        let engine = try h.engine([hot, leak])
        let started = try engine.maintenance(until: h.start + 1_800_000)
        #expect(started.kind == .maintenanceStarted)
        #expect(started.ruleID == "*")
        #expect(try h.store.maintenanceUntil() == h.start + 1_800_000)
        let during = try h.feed(engine, "tank_temp", 29, after: 10) + h.feed(engine, "leak", 1, unit: "state")
        #expect(during.map(\.silenced) == [true, true])
        let ended = try h.tick(engine, after: 1_790)
        #expect(kinds(ended) == [.maintenanceEnded])
        #expect(ended.first?.timestampMillis == h.start + 1_800_000)
        #expect(try h.store.maintenanceUntil() == nil)
        #expect(try h.feed(engine, "leak", 0, after: 1, unit: "state").map(\.silenced) == [false])

        #expect(try engine.maintenance(until: h.now + 600_000).kind == .maintenanceStarted)
        #expect(try engine.maintenance(until: nil).kind == .maintenanceEnded)
        #expect(throws: AlertEngineError.notInMaintenance) { try engine.maintenance(until: nil) }
    }

    @Test func acknowledgeAndSilenceFromASecondInstanceAsTheCLIDoes() throws {
        let h = try Harness()
        let daemon = try h.engine([hot])
        #expect(kinds(try h.feed(daemon, "tank_temp", 29)) == [.fired])

        // The CLI: its own connection to the same file, no outputs.
        let cliStore = try AlertStore(writer: try Harness.open(h.path))
        let cli = try AlertEngine(rules: [hot], store: cliStore, clock: h.clock)
        h.clock.advance(by: .seconds(30))
        let ack = try cli.acknowledge(ruleID: "tank_hot")
        #expect(ack.sequence == 2)
        #expect(ack.activeSinceMillis == h.start)
        #expect(ack.value == 29)
        #expect(try h.store.active().map(\.acknowledged) == [true])
        let silence = try cli.silence(ruleID: "tank_hot", until: h.now + 600_000)
        #expect(silence.sequence == 3)

        // The daemon learns of both on its next tick; its later writes keep them.
        #expect(try h.tick(daemon, after: 1) == [])
        #expect(try h.feed(daemon, "tank_temp", 29.5, after: 1) == [])
        #expect(try cliStore.active().map(\.acknowledged) == [true])
        let resolved = try h.feed(daemon, "tank_temp", 27, after: 1)
        #expect(resolved.map(\.silenced) == [true])
        #expect(try cliStore.active() == [])
        #expect(throws: AlertEngineError.notActive("tank_hot")) { try cli.acknowledge(ruleID: "tank_hot") }
        // A new episode starts unacknowledged.
        #expect(kinds(try h.feed(daemon, "tank_temp", 29, after: 1)) == [.fired])
        #expect(try cliStore.active().map(\.acknowledged) == [false])
        #expect(kinds(try h.tick(daemon, after: 600)) == [.unsilenced])
        #expect(try cliStore.history(limit: 3, ruleID: "tank_hot").map(\.kind) == [.unsilenced, .fired, .resolved])
    }
}

@Suite struct ActionTests {
    let outputs = ["ato_pump": OutputPolicy(normal: true, failSafe: false), "heater": OutputPolicy(normal: true, failSafe: false)]
    let leak = AlertRule(id: "leak", sensorID: "sump_leak", condition: .switchState(active: true), severity: .critical,
                         action: .init(output: "ato_pump", state: false))
    let highFloat = AlertRule(id: "ato_high", sensorID: "ato_high_float", condition: .switchState(active: true),
                              action: .init(output: "ato_pump", state: false))
    let hot = AlertRule(id: "tank_hot", sensorID: "tank_temp", condition: .threshold(op: .greater, value: 28, clear: 27.5),
                        action: .init(output: "heater", state: false))

    @Test func twoRulesHoldOneOutputUntilBothResolve() throws {
        let h = try Harness()
        let relays = RecordingOutputs()
        let engine = try h.engine([leak, highFloat, hot], outputs: outputs, driver: relays)
        #expect(relays.calls == ["ato_pump=on", "heater=on"])
        #expect(try h.store.events(afterSequence: 0, limit: 10).map(\.message) == ["ato_pump on (start-up)", "heater on (start-up)"])

        let wet = try h.feed(engine, "sump_leak", 1, after: 1, unit: "state")
        #expect(kinds(wet) == [.fired, .actuated])
        #expect(wet.last?.output == "ato_pump")
        #expect(wet.last?.value == 0)
        #expect(wet.last?.message == "ato_pump off (rule leak fired)")
        #expect(kinds(try h.feed(engine, "ato_high_float", 1, after: 1, unit: "state")) == [.fired])
        #expect(kinds(try h.feed(engine, "sump_leak", 0, after: 1, unit: "state")) == [.resolved])
        #expect(relays.calls == ["ato_pump=on", "heater=on", "ato_pump=off"])
        let dry = try h.feed(engine, "ato_high_float", 0, after: 1, unit: "state")
        #expect(kinds(dry) == [.resolved, .actuated])
        #expect(dry.last?.message == "ato_pump on (rule ato_high resolved)")
        #expect(relays.calls == ["ato_pump=on", "heater=on", "ato_pump=off", "ato_pump=on"])
    }

    @Test func failedSwitchIsRecordedOnceAndRetriedOnTick() throws {
        let h = try Harness()
        let relays = RecordingOutputs()
        let engine = try h.engine([hot], outputs: outputs, driver: relays)
        relays.fail("heater", true)
        let fired = try h.feed(engine, "tank_temp", 28.5, after: 1)
        #expect(kinds(fired) == [.fired, .actuated])
        #expect(fired.last?.value == nil)
        #expect(fired.last?.message == "could not switch heater off (rule tank_hot fired): gpio line busy")
        #expect(try h.tick(engine, after: 1) == [])
        relays.fail("heater", false)
        let retried = try h.tick(engine, after: 1)
        #expect(retried.map(\.message) == ["heater off (rule tank_hot fired)"])
        #expect(relays.calls == ["ato_pump=on", "heater=on", "heater=off"])
    }

    @Test func failSafeDrivesEveryOutputAndRestartRestoresHeldOnes() throws {
        let h = try Harness()
        let relays = RecordingOutputs()
        let engine = try h.engine([leak, hot], outputs: outputs, driver: relays)
        #expect(kinds(try h.feed(engine, "sump_leak", 1, after: 1, unit: "state")) == [.fired, .actuated])
        let stop = try engine.failSafe()
        #expect(kinds(stop) == [.failSafe, .failSafe])
        #expect(stop.map(\.output) == ["ato_pump", "heater"])
        #expect(stop.map(\.value) == [0, 0])
        #expect(relays.calls == ["ato_pump=on", "heater=on", "ato_pump=off", "ato_pump=off", "heater=off"])

        // The next start puts the heater back on and keeps the pump off: the leak still fires.
        let restartRelays = RecordingOutputs()
        _ = try h.engine([leak, hot], outputs: outputs, driver: restartRelays)
        #expect(restartRelays.calls == ["ato_pump=off", "heater=on"])
        #expect(try h.store.history(limit: 2, ruleID: nil).map(\.message) == ["heater on (start-up)", "ato_pump off (rule leak fired)"])
    }

    @Test func engineWithoutDriverNeverActuates() throws {
        let h = try Harness()
        let engine = try h.engine([leak], outputs: outputs)
        #expect(kinds(try h.feed(engine, "sump_leak", 1, unit: "state")) == [.fired])
        #expect(try engine.failSafe() == [])
    }
}
