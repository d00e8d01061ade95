import EdgeCore
import EdgeTesting
import Notify
import Testing
import Wire

/// The delivery loop's pacing on a stepping clock, through a scripted transport: grouping,
/// retry spacing, dead letters and requeue, priority, flapping, silence, reminders, the
/// offline collapse and the rate cap, at exact instants.
@Suite struct NotifyStageTests {
    @Test func eventsWithinTheGroupingWindowGoAsOneMessageWhenItCloses() async throws {
        let h = try StageHarness()
        let transport = ScriptedTransport(clock: h.clock)
        let t0 = h.now
        try await h.run(transport) { _ in
            h.log.append("temp-high", .fired, .critical, at: h.now)
            await h.advance(.seconds(5))
            h.log.append("ato-stuck", .fired, at: h.now)
            await h.advance(.seconds(5))
            h.log.append("ph-low", .fired, at: h.now)
            await h.advance(.seconds(19))
            #expect(transport.attempts.count == 0, "the window is still open")
            await h.advance(.seconds(1))
        }
        #expect(transport.delivered.map(\.atMillis) == [t0 + 30_000])
        #expect(transport.delivered.map(\.title) == ["reef-1: 3 alerts (3 fired)"])
        #expect(transport.delivered[0].body == """
            14:00:00 temp-high fired: temp-high fired
            14:00:05 ato-stuck fired: ato-stuck fired
            14:00:10 ph-low fired: ph-low fired
            """)
        let cursor = try h.ledger.cursor(target: "phone")
        #expect(cursor.deliveredThrough == 3 && cursor.messagesSent == 1 && cursor.eventsSent == 3)
    }

    @Test func a500ThenA429WithRetryAfterThenA200AreSpacedAsDeliveryStateDecides() async throws {
        let h = try StageHarness()
        let transport = ScriptedTransport(clock: h.clock, script: [
            .http(status: 500, reason: "boom"), .http(status: 429, reason: "slow down", retryAfter: "120"),
        ])
        let t0 = h.now
        try await h.run(transport) { _ in
            h.log.append("temp-high", .fired, .critical, at: h.now)
            await h.advance(.seconds(30 + 600 + 600))
        }
        var expected = DeliveryState()
        var random = SeededRandom(seed: 7)
        let range = SequenceRange(first: 1, last: 1)
        guard case .retry(let second, _) = expected.record(.http(status: 500, reason: "boom"), for: range, nowMillis: t0 + 30_000, random: &random),
              case .retry(let third, _) = expected.record(.http(status: 429, reason: "slow down", retryAfter: "120"), for: range,
                                                          nowMillis: second, random: &random) else {
            Issue.record("500 and 429 are retried")
            return
        }
        #expect(third - second >= 120_000, "never before Retry-After")
        #expect(transport.attempts.map(\.atMillis) == [t0 + 30_000, second, third])
        #expect(Set(transport.attempts.map { $0.header("X-Title") }).count == 1, "the same message each time")
        let cursor = try h.ledger.cursor(target: "phone")
        #expect(cursor.deliveredThrough == 1 && cursor.retries == 2 && cursor.lastError == nil)
    }

    @Test func a400IsDeadLetteredWithTheReasonAndDeliveredAfterRequeue() async throws {
        let h = try StageHarness()
        let transport = ScriptedTransport(clock: h.clock, script: [.http(status: 400, reason: "topic name invalid")])
        try await h.run(transport) { _ in
            h.log.append("temp-high", .fired, .critical, at: h.now)
            await h.advance(.seconds(30))
            let letters = try h.ledger.openDeadLetters(target: "phone")
            #expect(letters.map(\.reason) == ["topic name invalid"] && letters.map(\.status) == [400])
            #expect(try h.ledger.cursor(target: "phone").deliveredThrough == 1, "the cursor moves past a dead letter")
            #expect(try h.ledger.requeue(target: "phone", nowMillis: h.now) == 1)
            await h.advance(.seconds(600))
        }
        #expect(transport.attempts.map(\.outcome) == [.http(status: 400, reason: "topic name invalid"), .accepted])
        #expect(transport.attempts.map(\.title) == ["reef-1: temp-high fired", "reef-1: temp-high fired"])
        #expect(try h.ledger.openDeadLetters(target: "phone").isEmpty)
        #expect(try h.ledger.requeuedLetters(target: "phone").isEmpty)
    }

    @Test func aCriticalEventGoesAheadOfABacklogOfWarningsAndNothingGoesTwice() async throws {
        let h = try StageHarness()
        let transport = ScriptedTransport(clock: h.clock)
        try await h.run(transport) { _ in
            for _ in 0..<120 { h.log.append("ph-low", .fired, at: h.now) }
            h.log.append("temp-high", .fired, .critical, at: h.now)
            await h.advance(.seconds(31))
        }
        #expect(transport.delivered.map(\.title) == [
            "reef-1: temp-high fired", "reef-1: 50 alerts (50 fired)", "reef-1: 50 alerts (50 fired)", "reef-1: 20 alerts (20 fired)",
        ])
        let cursor = try h.ledger.cursor(target: "phone")
        #expect(cursor.deliveredThrough == 121 && cursor.eventsSent == 121 && cursor.messagesSent == 4)
    }

    @Test func aFlappingRuleSendsOneFlappingMessage() async throws {
        let h = try StageHarness()
        let transport = ScriptedTransport(clock: h.clock)
        try await h.run(transport) { _ in
            for kind: AlertEventKind in [.fired, .resolved, .fired, .resolved, .flapping] {
                h.log.append("temp-high", kind, .critical, at: h.now)
                await h.advance(.seconds(2))
            }
            await h.advance(.seconds(60))
        }
        #expect(transport.delivered.map(\.title) == ["reef-1: temp-high flapping"])
        #expect(try h.ledger.cursor(target: "phone").deliveredThrough == 5)
    }

    @Test func aSilencedRuleSendsNothing() async throws {
        let h = try StageHarness()
        let transport = ScriptedTransport(clock: h.clock)
        try await h.run(transport) { _ in
            h.log.append("temp-high", .fired, .critical, at: h.now, silenced: true)
            h.log.append("temp-high", .resolved, .critical, at: h.now, silenced: true)
            await h.advance(.seconds(120))
        }
        #expect(transport.attempts.isEmpty)
        #expect(try h.ledger.cursor(target: "phone").deliveredThrough == 2)
    }

    @Test func aStillFiringCriticalRuleRepeatsUntilAcknowledged() async throws {
        let h = try StageHarness(target: NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef",
                                                      repeatInterval: .seconds(3600)))
        let transport = ScriptedTransport(clock: h.clock)
        let t0 = h.now
        let rule = FiringRule(ruleID: "temp-high", sensorID: "temp", severity: .critical, firingSinceMillis: t0, message: "hot")
        try await h.run(transport) { _ in
            h.log.setFiring([rule])
            await h.advance(.seconds(2 * 3600))
            var acknowledged = rule
            acknowledged.acknowledged = true
            h.log.setFiring([acknowledged])
            await h.advance(.seconds(3 * 3600))
        }
        #expect(transport.delivered.map(\.atMillis) == [t0 + 3_600_000, t0 + 7_200_000])
        #expect(transport.delivered.map(\.title) == ["reef-1: temp-high still firing", "reef-1: temp-high still firing"])
        #expect(try h.ledger.repeatsSent(target: "phone") == ["temp-high": t0 + 7_200_000])
    }

    @Test func anOutageLongerThanMaxAgeIsOneSummaryWithExactCountsThenTheStillFiringState() async throws {
        let h = try StageHarness(target: NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef",
                                                      repeatInterval: .seconds(7 * 86_400), maxAge: .seconds(3600)))
        let t0 = h.now
        let back = t0 + 2 * 3_600_000
        let transport = ScriptedTransport(clock: h.clock) { now in now < back ? .networkError("connection refused") : nil }
        try await h.run(transport) { _ in
            h.log.setFiring([FiringRule(ruleID: "temp-high", sensorID: "temp", severity: .critical, firingSinceMillis: t0,
                                        message: "Tank at 28.4 °C (limit 28.0)")])
            for (rule, kind) in [("temp-high", AlertEventKind.fired), ("ph-low", .fired), ("ph-low", .resolved), ("ato", .fired), ("ato", .resolved)] {
                h.log.append(rule, kind, rule == "temp-high" ? .critical : .warning, at: h.now)
                await h.advance(.seconds(1))
            }
            await h.advance(.seconds(2 * 3600 + 900))
        }
        #expect(transport.delivered.map(\.title) == ["reef-1: 5 alerts while offline", "reef-1: temp-high still firing"])
        #expect(transport.delivered.map(\.body) == [
            "5 alerts from 14:00:00 to 14:00:04 while offline: 3 fired, 2 resolved — edge-agent alerts history",
            "temp-high (critical) firing since 14:00:00: Tank at 28.4 °C (limit 28.0)",
        ])
        let failed = transport.attempts.filter { $0.outcome != .accepted }
        #expect(!failed.isEmpty && failed.allSatisfy { $0.title == "reef-1: temp-high fired" || $0.title.hasPrefix("reef-1: 5 alerts") })
        let cursor = try h.ledger.cursor(target: "phone")
        #expect(cursor.deliveredThrough == 5 && cursor.messagesSent == 2)
    }

    @Test func anOutageReadInSeveralWindowsIsStillOneSummary() async throws {
        let h = try StageHarness(target: NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef", maxAge: .seconds(3600)))
        for index in 0..<35 { h.log.append("r\(index % 5)", index % 2 == 0 ? .fired : .resolved, at: h.now - 7 * 3_600_000 + Int64(index)) }
        let transport = ScriptedTransport(clock: h.clock)
        try await h.run(transport, window: 10) { _ in await h.advance(.seconds(1)) }
        #expect(transport.delivered.map(\.body) == ["35 alerts from 07:00:00 to 07:00:00 while offline: 18 fired, 17 resolved — edge-agent alerts history"])
        #expect(try h.ledger.cursor(target: "phone").deliveredThrough == 35)
    }

    @Test func twoHundredEventsInAMinuteAreABoundedNumberOfMessagesWithExactCounts() async throws {
        let h = try StageHarness(target: NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef",
                                                      rateCap: .init(messages: 3, per: .seconds(3600))))
        let transport = ScriptedTransport(clock: h.clock)
        try await h.run(transport) { _ in
            for index in 0..<200 {
                h.log.append("r\(index % 10)", index % 2 == 0 ? .fired : .resolved, at: h.now)
                await h.advance(.milliseconds(300))
            }
            await h.advance(.seconds(3 * 3600))
        }
        // 50 per message: two groups, then the last message of the period carries everything pending.
        #expect(transport.delivered.map(\.title) == [
            "reef-1: 50 alerts (25 fired, 25 resolved)", "reef-1: 50 alerts (25 fired, 25 resolved)", "reef-1: 100 more alerts",
        ])
        #expect(transport.delivered.last?.body == "100 more alerts since 14:00:30: 50 fired, 50 resolved — edge-agent alerts history")
        let cursor = try h.ledger.cursor(target: "phone")
        #expect(cursor.deliveredThrough == 200 && cursor.eventsSent == 200 && cursor.messagesSent == 3)
    }

    @Test func aRingFromTheEngineSendsWithoutWaitingForThePoll() async throws {
        let h = try StageHarness(target: NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef",
                                                      groupingWindow: .zero))
        let transport = ScriptedTransport(clock: h.clock)
        let t0 = h.now
        try await h.run(transport) { stage in
            h.log.append("leak", .fired, .critical, at: h.now)
            stage.wakeup.ring()
            for _ in 0..<10_000 where transport.attempts.isEmpty { await Task.yield() }
        }
        #expect(transport.delivered.map(\.atMillis) == [t0], "sent at once, the clock never moved")
    }

    @Test func aRestartMidAttemptSendsTheSameRangeUnderTheSameKey() async throws {
        let h = try StageHarness(target: NotifyTarget(id: "hook", kind: .webhook, url: "https://alerts.example.org/hook"))
        for kind: AlertEventKind in [.fired, .resolved, .fired] { h.log.append("temp-high", kind, .critical, at: h.now - 60_000) }
        // The previous run fixed 1...2 and was killed before the answer was committed.
        #expect(try h.ledger.beginAttempt(target: "hook", range: SequenceRange(first: 1, last: 2)) == SequenceRange(first: 1, last: 2))
        let transport = ScriptedTransport(clock: h.clock)
        try await h.run(transport) { _ in await h.advance(.seconds(1)) }
        #expect(transport.delivered.map { $0.header("Idempotency-Key") } == ["reef-edge/hook/1-2", "reef-edge/hook/3"])
        #expect(try h.ledger.cursor(target: "hook").deliveredThrough == 3)
    }
}
