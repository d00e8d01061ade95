import AlertEngine
import EdgeCore
import Readings
import XCTest

final class LifecycleTests: XCTestCase {
    let hot = AlertRule(id: "tank_hot", sensorID: "tank_temp", condition: .threshold(op: .greater, value: 28, clear: 27.5),
                        severity: .critical)

    func testRestartKeepsAFiringRuleWithoutASecondFired() throws {
        let h = try Harness()
        let before = try h.engine([hot])
        XCTAssertEqual(kinds(try h.feed(before, "tank_temp", 28.4)), [.fired])
        try h.database.writer.close()

        // A new process: the same file opened afresh.
        let reopened = try LocalDatabase.open(path: h.path, clock: h.clock)
        let store = try AlertStore(writer: reopened.writer)
        let after = try AlertEngine(rules: [hot], store: store, clock: h.clock)
        XCTAssertEqual(try store.active().map(\.state), [.firing])
        XCTAssertEqual(try store.active().map(\.sinceMillis), [h.start])
        h.clock.advance(by: .seconds(60))
        XCTAssertEqual(try after.evaluate(h.reading("tank_temp", 28.6)), [])
        // Inside the deadband: the restored firing state keeps the clear edge in force.
        XCTAssertEqual(try after.evaluate(h.reading("tank_temp", 27.8)), [])
        h.clock.advance(by: .seconds(60))
        let resolved = try after.evaluate(h.reading("tank_temp", 27.2))
        XCTAssertEqual(resolved.map(\.kind), [.resolved])
        XCTAssertEqual(resolved.first?.sequence, 2)
        XCTAssertEqual(resolved.first?.activeSinceMillis, h.start)
        XCTAssertEqual(try store.events(afterSequence: 0, limit: 10).map(\.kind), [.fired, .resolved])
    }

    func testARuleRemovedFromTheProfileIsResolvedAndForgotten() throws {
        let h = try Harness()
        let leak = AlertRule(id: "leak", sensorID: "leak", condition: .switchState(active: true))
        XCTAssertEqual(kinds(try h.feed(try h.engine([hot, leak]), "tank_temp", 29)), [.fired])
        h.clock.advance(by: .seconds(5))
        _ = try h.engine([leak])
        let last = try h.store.history(limit: 1, ruleID: nil)
        XCTAssertEqual(last.map(\.kind), [.resolved])
        XCTAssertEqual(last.first?.message, "Resolved: rule tank_hot was removed from the profile")
        XCTAssertEqual(last.first?.activeSinceMillis, h.start)
        XCTAssertEqual(try h.store.active(), [])
        XCTAssertThrowsError(try h.engine([leak, leak])) { error in
            XCTAssertEqual(error as? AlertEngineError, .duplicateRule("leak"))
        }
    }

    func testRestartResumesAPendingRuleFromItsStart() throws {
        let h = try Harness()
        let rule = AlertRule(id: "leak", sensorID: "leak", condition: .switchState(active: true), holdFor: .seconds(30))
        XCTAssertEqual(try h.feed(try h.engine([rule]), "leak", 1, unit: "state"), [])
        let restarted = try h.engine([rule])
        XCTAssertEqual(try h.tick(restarted, after: 29), [])
        let fired = try h.tick(restarted, after: 1)
        XCTAssertEqual(kinds(fired), [.fired])
        XCTAssertEqual(fired.first?.timestampMillis, h.start + 30_000)
    }

    func testSilencedRuleStillRecordsMarkedSilencedUntilItExpires() throws {
        let h = try Harness()
        let engine = try h.engine([hot])
        let silenced = try engine.silence(ruleID: "tank_hot", until: h.start + 3_600_000)
        XCTAssertEqual(silenced.kind, .silenced)
        XCTAssertEqual(silenced.message, "Silenced tank_hot until 2026-01-01T01:00:00Z")
        let fired = try h.feed(engine, "tank_temp", 29, after: 60)
        XCTAssertEqual(kinds(fired), [.fired])
        XCTAssertEqual(fired.first?.silenced, true)
        XCTAssertEqual(try h.store.active().first?.silencedUntilMillis, h.start + 3_600_000)
        XCTAssertEqual(try h.tick(engine, after: 3_539), [])
        let expired = try h.tick(engine, after: 1)
        XCTAssertEqual(kinds(expired), [.unsilenced])
        XCTAssertEqual(expired.first?.timestampMillis, h.start + 3_600_000)
        XCTAssertEqual(try h.tick(engine, after: 60), [])
        let resolved = try h.feed(engine, "tank_temp", 27, after: 1)
        XCTAssertEqual(resolved.first?.silenced, false)
        XCTAssertThrowsError(try engine.silence(ruleID: "tank_hot", until: h.now)) { error in
            XCTAssertEqual(error as? AlertEngineError, .expiryInPast(until: h.now, now: h.now))
        }
        XCTAssertThrowsError(try engine.silence(ruleID: "nope", until: h.now + 1)) { error in
            XCTAssertEqual(error as? AlertEngineError, .unknownRule("nope"))
        }
    }

    func testMaintenanceSilencesEveryRuleUntilItEnds() throws {
        let h = try Harness()
        let leak = AlertRule(id: "leak", sensorID: "leak", condition: .switchState(active: true))
        let engine = try h.engine([hot, leak])
        let started = try engine.maintenance(until: h.start + 1_800_000)
        XCTAssertEqual(started.kind, .maintenanceStarted)
        XCTAssertEqual(started.ruleID, "*")
        XCTAssertEqual(try h.store.maintenanceUntil(), h.start + 1_800_000)
        let during = try h.feed(engine, "tank_temp", 29, after: 10) + h.feed(engine, "leak", 1, unit: "state")
        XCTAssertEqual(during.map(\.silenced), [true, true])
        let ended = try h.tick(engine, after: 1_790)
        XCTAssertEqual(kinds(ended), [.maintenanceEnded])
        XCTAssertEqual(ended.first?.timestampMillis, h.start + 1_800_000)
        XCTAssertEqual(try h.store.maintenanceUntil(), nil)
        XCTAssertEqual(try h.feed(engine, "leak", 0, after: 1, unit: "state").map(\.silenced), [false])

        XCTAssertEqual(try engine.maintenance(until: h.now + 600_000).kind, .maintenanceStarted)
        XCTAssertEqual(try engine.maintenance(until: nil).kind, .maintenanceEnded)
        XCTAssertThrowsError(try engine.maintenance(until: nil)) { error in
            XCTAssertEqual(error as? AlertEngineError, .notInMaintenance)
        }
    }

    func testAcknowledgeAndSilenceFromASecondInstanceAsTheCLIDoes() throws {
        let h = try Harness()
        let daemon = try h.engine([hot])
        XCTAssertEqual(kinds(try h.feed(daemon, "tank_temp", 29)), [.fired])

        // The CLI: its own connection to the same file, no outputs.
        let cliDatabase = try LocalDatabase.open(path: h.path, clock: h.clock)
        let cliStore = try AlertStore(writer: cliDatabase.writer)
        let cli = try AlertEngine(rules: [hot], store: cliStore, clock: h.clock)
        h.clock.advance(by: .seconds(30))
        let ack = try cli.acknowledge(ruleID: "tank_hot")
        XCTAssertEqual(ack.sequence, 2)
        XCTAssertEqual(ack.activeSinceMillis, h.start)
        XCTAssertEqual(ack.value, 29)
        XCTAssertEqual(try h.store.active().map(\.acknowledged), [true])
        let silence = try cli.silence(ruleID: "tank_hot", until: h.now + 600_000)
        XCTAssertEqual(silence.sequence, 3)

        // The daemon learns of both on its next tick; its later writes keep them.
        XCTAssertEqual(try h.tick(daemon, after: 1), [])
        XCTAssertEqual(try h.feed(daemon, "tank_temp", 29.5, after: 1), [])
        XCTAssertEqual(try cliStore.active().map(\.acknowledged), [true])
        let resolved = try h.feed(daemon, "tank_temp", 27, after: 1)
        XCTAssertEqual(resolved.map(\.silenced), [true])
        XCTAssertEqual(try cliStore.active(), [])
        XCTAssertThrowsError(try cli.acknowledge(ruleID: "tank_hot")) { error in
            XCTAssertEqual(error as? AlertEngineError, .notActive("tank_hot"))
        }
        // A new episode starts unacknowledged.
        XCTAssertEqual(kinds(try h.feed(daemon, "tank_temp", 29, after: 1)), [.fired])
        XCTAssertEqual(try cliStore.active().map(\.acknowledged), [false])
        XCTAssertEqual(kinds(try h.tick(daemon, after: 600)), [.unsilenced])
        XCTAssertEqual(try cliStore.history(limit: 3, ruleID: "tank_hot").map(\.kind), [.unsilenced, .fired, .resolved])
    }
}

final class ActionTests: XCTestCase {
    let outputs = ["ato_pump": OutputPolicy(normal: true, failSafe: false), "heater": OutputPolicy(normal: true, failSafe: false)]
    let leak = AlertRule(id: "leak", sensorID: "sump_leak", condition: .switchState(active: true), severity: .critical,
                         action: .init(output: "ato_pump", state: false))
    let highFloat = AlertRule(id: "ato_high", sensorID: "ato_high_float", condition: .switchState(active: true),
                              action: .init(output: "ato_pump", state: false))
    let hot = AlertRule(id: "tank_hot", sensorID: "tank_temp", condition: .threshold(op: .greater, value: 28, clear: 27.5),
                        action: .init(output: "heater", state: false))

    func testTwoRulesHoldOneOutputUntilBothResolve() throws {
        let h = try Harness()
        let relays = RecordingOutputs()
        let engine = try h.engine([leak, highFloat, hot], outputs: outputs, driver: relays)
        XCTAssertEqual(relays.calls, ["ato_pump=on", "heater=on"])
        XCTAssertEqual(try h.store.events(afterSequence: 0, limit: 10).map(\.message), ["ato_pump on (start-up)", "heater on (start-up)"])

        let wet = try h.feed(engine, "sump_leak", 1, after: 1, unit: "state")
        XCTAssertEqual(kinds(wet), [.fired, .actuated])
        XCTAssertEqual(wet.last?.output, "ato_pump")
        XCTAssertEqual(wet.last?.value, 0)
        XCTAssertEqual(wet.last?.message, "ato_pump off (rule leak fired)")
        XCTAssertEqual(kinds(try h.feed(engine, "ato_high_float", 1, after: 1, unit: "state")), [.fired])
        XCTAssertEqual(kinds(try h.feed(engine, "sump_leak", 0, after: 1, unit: "state")), [.resolved])
        XCTAssertEqual(relays.calls, ["ato_pump=on", "heater=on", "ato_pump=off"])
        let dry = try h.feed(engine, "ato_high_float", 0, after: 1, unit: "state")
        XCTAssertEqual(kinds(dry), [.resolved, .actuated])
        XCTAssertEqual(dry.last?.message, "ato_pump on (rule ato_high resolved)")
        XCTAssertEqual(relays.calls, ["ato_pump=on", "heater=on", "ato_pump=off", "ato_pump=on"])
    }

    func testFailedSwitchIsRecordedOnceAndRetriedOnTick() throws {
        let h = try Harness()
        let relays = RecordingOutputs()
        let engine = try h.engine([hot], outputs: outputs, driver: relays)
        relays.fail("heater", true)
        let fired = try h.feed(engine, "tank_temp", 28.5, after: 1)
        XCTAssertEqual(kinds(fired), [.fired, .actuated])
        XCTAssertEqual(fired.last?.value, nil)
        XCTAssertEqual(fired.last?.message, "could not switch heater off (rule tank_hot fired): gpio line busy")
        XCTAssertEqual(try h.tick(engine, after: 1), [])
        relays.fail("heater", false)
        let retried = try h.tick(engine, after: 1)
        XCTAssertEqual(retried.map(\.message), ["heater off (rule tank_hot fired)"])
        XCTAssertEqual(relays.calls, ["ato_pump=on", "heater=on", "heater=off"])
    }

    func testFailSafeDrivesEveryOutputAndRestartRestoresHeldOnes() throws {
        let h = try Harness()
        let relays = RecordingOutputs()
        let engine = try h.engine([leak, hot], outputs: outputs, driver: relays)
        XCTAssertEqual(kinds(try h.feed(engine, "sump_leak", 1, after: 1, unit: "state")), [.fired, .actuated])
        let stop = try engine.failSafe()
        XCTAssertEqual(kinds(stop), [.failSafe, .failSafe])
        XCTAssertEqual(stop.map(\.output), ["ato_pump", "heater"])
        XCTAssertEqual(stop.map(\.value), [0, 0])
        XCTAssertEqual(relays.calls, ["ato_pump=on", "heater=on", "ato_pump=off", "ato_pump=off", "heater=off"])

        // The next start puts the heater back on and keeps the pump off: the leak still fires.
        let restartRelays = RecordingOutputs()
        _ = try h.engine([leak, hot], outputs: outputs, driver: restartRelays)
        XCTAssertEqual(restartRelays.calls, ["ato_pump=off", "heater=on"])
        XCTAssertEqual(try h.store.history(limit: 2, ruleID: nil).map(\.message), ["heater on (start-up)", "ato_pump off (rule leak fired)"])
    }

    func testEngineWithoutDriverNeverActuates() throws {
        let h = try Harness()
        let engine = try h.engine([leak], outputs: outputs)
        XCTAssertEqual(kinds(try h.feed(engine, "sump_leak", 1, unit: "state")), [.fired])
        XCTAssertEqual(try engine.failSafe(), [])
    }
}
