import EdgeCore
import EdgeTesting
import Notify
import NotifyDelivery
import Testing
import Wire

/// The delivery loop's pacing on a stepping clock, through a scripted transport: grouping,
/// flapping, reminders, a ring, a restart mid-attempt and long outages, at exact instants.
/// The faults (service down, 5xx/429, 4xx, rate cap, silence, acknowledgement, priority) go
/// through libcurl to a real receiver in NotifyFaultTests.
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

    @Test func anOutageReadInSeveralWindowsIsStillOneSummary() async throws {
        let h = try StageHarness(target: NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef", maxAge: .seconds(3600)))
        for index in 0..<35 { h.log.append("r\(index % 5)", index % 2 == 0 ? .fired : .resolved, at: h.now - 7 * 3_600_000 + Int64(index)) }
        let transport = ScriptedTransport(clock: h.clock)
        try await h.run(transport, window: 10) { _ in await h.advance(.seconds(1)) }
        #expect(transport.delivered.map(\.body) == ["35 alerts from 07:00:00 to 07:00:00 while offline: 18 fired, 17 resolved — edge-agent alerts history"])
        #expect(try h.ledger.cursor(target: "phone").deliveredThrough == 35)
    }

    @Test func aRingFromTheEngineSendsWithoutWaitingForThePoll() async throws {
        let h = try StageHarness(target: NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef",
                                                      groupingWindow: .zero))
        let transport = ScriptedTransport(clock: h.clock)
        let t0 = h.now
        try await h.run(transport) { stage in
            h.log.append("leak", .fired, .critical, at: h.now)
            stage.wakeup.ring()
            for _ in 0..<500 where transport.attempts.isEmpty { try? await Task.sleep(for: .milliseconds(10)) }
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

extension NotifyStageTests {
    /// A day offline with an alert every 5 minutes and a critical rule firing: what the stage
    /// keeps stays bounded (one cursor row, the cap's send times, no dead letters, nothing in
    /// memory but the window it reads), and the service back gets one summary of what went
    /// stale with exact counts, the still-firing state, then the last six hours within the cap.
    @Test func aDayOfflineStaysBoundedAndEndsInOneSummary() async throws {
        let h = try StageHarness(target: NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef",
                                                      repeatInterval: .seconds(2 * 86_400)))
        let t0 = h.now
        let back = t0 + 86_400_000
        let transport = ScriptedTransport(clock: h.clock) { now in now < back ? .timeout : nil }
        try await h.run(transport) { _ in
            h.log.setFiring([FiringRule(ruleID: "temp-high", sensorID: "temp", severity: .critical, firingSinceMillis: t0, message: "hot")])
            for index in 0..<288 {
                h.log.append("r\(index % 4)", index % 2 == 0 ? .fired : .resolved, at: h.now)
                await h.advance(.seconds(300))
            }
            let letters = try h.ledger.openDeadLetters(target: "phone")
            let cursor = try h.ledger.cursor(target: "phone")
            #expect(letters.isEmpty && cursor.recentSentMillis.isEmpty && cursor.deliveredThrough == 0)
            await h.advance(.seconds(3600))
        }
        let failed = transport.attempts.filter { $0.outcome != .accepted }
        #expect(failed.count < 8_640 / 10, "spaced by the backoff (2 s … 10 min), not one per poll: \(failed.count)")
        let delivered = transport.delivered
        // Back at 14:00 the next day: the events from 14:00 to 08:00 are older than max_age (6 h).
        #expect(delivered.first?.body == "217 alerts from 14:00:00 to 08:00:00 while offline: 109 fired, 108 resolved — edge-agent alerts history")
        #expect(delivered.dropFirst().first?.title == "reef-1: temp-high still firing")
        #expect(delivered.count <= 20, "the rate cap holds: \(delivered.count)")
        let cursor = try h.ledger.cursor(target: "phone")
        #expect(cursor.deliveredThrough == 288)
    }
}
