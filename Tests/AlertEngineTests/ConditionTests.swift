import AlertEngine
import EdgeCore
import Testing

@Suite struct ConditionTests {
    @Test func forDebouncesThenFiresOnTimeAndResolves() throws {
        let h = try Harness()
        let rule = AlertRule(id: "tank_hot", sensorID: "tank_temp", condition: .threshold(op: .greater, value: 28, clear: nil),
                             holdFor: .seconds(60), severity: .critical, description: "Tank at {value} {unit} (over {threshold})")
        let engine = try h.engine([rule])
        #expect(try h.feed(engine, "tank_temp", 28.5) == [])
        #expect(try h.store.active().map(\.state) == [.pending])
        #expect(try h.store.active().map(\.sinceMillis) == [h.start])
        // Clears after 30 s: back to inactive without any event.
        #expect(try h.feed(engine, "tank_temp", 27.9, after: 30) == [])
        #expect(try h.store.active() == [])
        #expect(try h.feed(engine, "tank_temp", 28.5, after: 10) == [])
        #expect(try h.feed(engine, "tank_temp", 28.6, after: 59) == [])
        let fired = try h.tick(engine, after: 1)
        #expect(fired == [AlertEvent(
            sequence: 1, ruleID: "tank_hot", sensorID: "tank_temp", kind: .fired, severity: .critical, value: 28.6,
            threshold: 28, timestampMillis: h.start + 100_000, activeSinceMillis: h.start + 100_000,
            message: "Tank at 28.6 °C (over 28)")])
        #expect(try h.feed(engine, "tank_temp", 28.7, after: 10) == [])
        let resolved = try h.feed(engine, "tank_temp", 27.0, after: 10)
        #expect(resolved.map(\.kind) == [.resolved])
        #expect(resolved.first?.sequence == 2)
        #expect(resolved.first?.activeSinceMillis == h.start + 100_000)
        #expect(resolved.first?.timestampMillis == h.start + 120_000)
        #expect(resolved.first?.message == "Resolved: Tank at 27 °C (over 28)")
        #expect(try h.store.events(afterSequence: 0, limit: 10).map(\.kind) == [.fired, .resolved])
        #expect(try h.store.eventBacklog(afterSequence: 1) == 1)
    }

    @Test func holdForZeroFiresOnFirstReading() throws {
        let h = try Harness()
        let engine = try h.engine([AlertRule(id: "cold", sensorID: "tank_temp", condition: .threshold(op: .less, value: 24, clear: nil))])
        #expect(kinds(try h.feed(engine, "tank_temp", 23.9)) == [.fired])
    }

    @Test func thresholdClearsOnlyPastTheDeadband() throws {
        let h = try Harness()
        let engine = try h.engine([AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: 27.5))])
        #expect(kinds(try h.feed(engine, "t", 28.0, after: 1)) == [])
        #expect(kinds(try h.feed(engine, "t", 28.1, after: 1)) == [.fired])
        #expect(kinds(try h.feed(engine, "t", 27.9, after: 1)) == [])
        #expect(kinds(try h.feed(engine, "t", 27.5, after: 1)) == [])
        let resolved = try h.feed(engine, "t", 27.4, after: 1)
        #expect(kinds(resolved) == [.resolved])
        #expect(resolved.first?.threshold == 27.5)
        #expect(resolved.first?.value == 27.4)
        // Below the fire edge again: no new event until it is crossed.
        #expect(kinds(try h.feed(engine, "t", 27.9, after: 1)) == [])
    }

    @Test func bandFiresOutsideAndClearsInsideTheMargin() throws {
        let h = try Harness()
        let engine = try h.engine([AlertRule(id: "ph_band", sensorID: "ph", condition: .band(low: 7.8, high: 8.4, clearMargin: 0.05))])
        let high = try h.feed(engine, "ph", 8.45, unit: "pH")
        #expect(kinds(high) == [.fired])
        #expect(high.first?.threshold == 8.4)
        #expect(kinds(try h.feed(engine, "ph", 8.38, after: 60, unit: "pH")) == [])
        #expect(kinds(try h.feed(engine, "ph", 8.34, after: 60, unit: "pH")) == [.resolved])
        let low = try h.feed(engine, "ph", 7.7, after: 60, unit: "pH")
        #expect(kinds(low) == [.fired])
        #expect(low.first?.threshold == 7.8)
        #expect(kinds(try h.feed(engine, "ph", 7.84, after: 60, unit: "pH")) == [])
        #expect(kinds(try h.feed(engine, "ph", 7.86, after: 60, unit: "pH")) == [.resolved])
    }

    @Test func staleFiresWhenReadingsStopAndResolvesOnAFreshOne() throws {
        let h = try Harness()
        let engine = try h.engine([AlertRule(id: "temp_stale", sensorID: "t", condition: .stale(after: .seconds(300)),
                                             description: "No reading from {sensor} for {value} {unit}")])
        #expect(try h.feed(engine, "t", 25) == [])
        #expect(try h.tick(engine, after: 299) == [])
        let fired = try h.tick(engine, after: 1)
        #expect(kinds(fired) == [.fired])
        #expect(fired.first?.message == "No reading from t for 300 s")
        #expect(fired.first?.threshold == 300)
        #expect(try h.tick(engine, after: 60) == [])
        // A suspect reading is not fresh.
        #expect(try engine.evaluate(h.reading("t", 25, quality: .suspect)) == [])
        let resolved = try h.feed(engine, "t", 25.1, after: 1)
        #expect(kinds(resolved) == [.resolved])
        #expect(resolved.first?.activeSinceMillis == h.start + 300_000)
    }

    @Test func sensorErrorFiresStaleAtOnceAndLeavesValueRulesAlone() throws {
        let h = try Harness()
        let engine = try h.engine([
            AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil)),
            AlertRule(id: "probe", sensorID: "t", condition: .stale(after: .seconds(300)), severity: .critical),
        ])
        #expect(kinds(try h.feed(engine, "t", 29)) == [.fired])
        let failed = try engine.sensorFailed("t", error: "w1_slave empty (CRC or presence failure)")
        #expect(failed.map(\.ruleID) == ["probe"])
        #expect(kinds(failed) == [.fired])
        #expect(failed.first?.message == "No valid reading from t for 0 s (sensor error: w1_slave empty (CRC or presence failure))")
        #expect(try engine.sensorFailed("t", error: "again") == [])
        #expect(Set(try h.store.active().map(\.ruleID)) == ["hot", "probe"])
        let back = try h.feed(engine, "t", 26, after: 5)
        #expect(back.map(\.ruleID) == ["hot", "probe"])
        #expect(kinds(back) == [.resolved, .resolved])
    }

    @Test func rateOfChangeFiresOnAFastPHFallOnly() throws {
        let fall = AlertRule(id: "ph_crash", sensorID: "ph", condition: .rateOfChange(limit: -0.2, window: .seconds(3600)),
                             description: "pH changed {value} in an hour")
        // 0.3 per hour, a reading every 15 minutes.
        let fast = try Harness()
        let fastEngine = try fast.engine([fall])
        var events: [[AlertEvent.Kind]] = []
        for step in 0...4 {
            events.append(kinds(try fast.feed(fastEngine, "ph", 8.2 - 0.075 * Double(step), after: step == 0 ? 0 : 900, unit: "pH")))
        }
        #expect(events == [[], [], [], [.fired], []])
        let fired = try fast.store.history(limit: 1, ruleID: "ph_crash")
        #expect(fired.first?.timestampMillis == fast.start + 2_700_000)
        #expect(abs((fired.first?.value ?? 0) - (-0.225)) <= 1e-9)
        #expect(fired.first?.message == "pH changed -0.225 in an hour")

        // 0.1 per hour over two hours never fires.
        let slow = try Harness()
        let slowEngine = try slow.engine([fall])
        for step in 0...8 {
            #expect(try slow.feed(slowEngine, "ph", 8.2 - 0.025 * Double(step), after: step == 0 ? 0 : 900, unit: "pH") == [])
        }
    }

    @Test func rateOfChangeResolvesOnceTheFallLeavesTheWindow() throws {
        let h = try Harness()
        let engine = try h.engine([AlertRule(id: "ph_crash", sensorID: "ph", condition: .rateOfChange(limit: -0.2, window: .seconds(3600)))])
        #expect(try h.feed(engine, "ph", 8.2) == [])
        #expect(kinds(try h.feed(engine, "ph", 7.9, after: 600)) == [.fired])
        #expect(kinds(try h.feed(engine, "ph", 7.9, after: 2999)) == [])
        #expect(kinds(try h.feed(engine, "ph", 7.9, after: 2)) == [.resolved])
    }

    @Test func switchRuleHoldsForItsDuration() throws {
        let h = try Harness()
        let engine = try h.engine([
            AlertRule(id: "leak", sensorID: "sump_leak", condition: .switchState(active: true), holdFor: .seconds(10), severity: .critical),
            AlertRule(id: "ato_empty", sensorID: "ato_float", condition: .switchState(active: false), holdFor: .seconds(300)),
        ])
        #expect(try h.feed(engine, "sump_leak", 1, unit: "state") == [])
        #expect(try h.feed(engine, "sump_leak", 0, after: 5, unit: "state") == [])
        #expect(try h.feed(engine, "sump_leak", 1, after: 1, unit: "state") == [])
        #expect(try h.tick(engine, after: 9) == [])
        #expect(kinds(try h.tick(engine, after: 1)) == [.fired])
        #expect(kinds(try h.feed(engine, "sump_leak", 0, after: 1, unit: "state")) == [.resolved])

        #expect(try h.feed(engine, "ato_float", 0, unit: "state") == [])
        #expect(try h.feed(engine, "ato_float", 0, after: 299, unit: "state") == [])
        let empty = try h.feed(engine, "ato_float", 0, after: 1, unit: "state")
        #expect(empty.map(\.ruleID) == ["ato_empty"])
        #expect(empty.first?.threshold == 0)
    }

    @Test func flappingOnANoisyProbeIsReportedOnceAndEndsWhenStable() throws {
        let h = try Harness()
        let engine = try h.engine([AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil),
                                             flapping: .init(changes: 4, window: .seconds(600)))])
        var random = SeededRandom(seed: 42)
        let noisy = (0..<30).map { _ in 28 + Double.random(in: -0.3...0.3, using: &random) }
        let values = noisy + Array(repeating: 27.0, count: 70)
        // The expectation, worked out from the signal alone.
        var above = false
        var changeTimes: [Int64] = []
        for (i, value) in values.enumerated() where (value > 28) != above {
            above = value > 28
            changeTimes.append(h.start + Int64(i) * 10_000)
        }
        #expect(changeTimes.count >= 6, "the seed must give a flapping signal")

        var events: [AlertEvent] = []
        for (i, value) in values.enumerated() {
            events += try h.feed(engine, "t", value, after: i == 0 ? 0 : 10)
        }
        #expect(kinds(events) == [.fired, .resolved, .fired, .resolved, .flapping, .flappingEnded])
        #expect(events.map(\.timestampMillis) == Array(changeTimes.prefix(5)) + [changeTimes.last! + 600_000])
        #expect(try h.store.active() == [])
    }
}
