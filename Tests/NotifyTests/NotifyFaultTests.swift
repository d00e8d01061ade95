import EdgeCore
import EdgeTesting
import Notify
import NotifyDelivery
import Testing
import Wire

/// The issue's fault tests: the delivery stage on a stepping clock, through the libcurl
/// transport, to a real HTTPS receiver over TLS with a certificate the test generates.
@Suite(.serialized) struct NotifyFaultTests {
    static func phone(_ receiver: HTTPSReceiver, maxAge: Duration = .seconds(6 * 3600), repeatInterval: Duration = .seconds(2 * 3600),
                      rateCap: NotifyTarget.RateCap = .default) -> NotifyTarget {
        NotifyTarget(id: "phone", kind: .ntfy, url: receiver.url + "/reef", caFile: receiver.caFile, repeatInterval: repeatInterval,
                     maxAge: maxAge, rateCap: rateCap)
    }

    @Test func theReceiverDownForAWhileThenBackGetsEveryEventOnceInOrder() async throws {
        let certificates = try await TestCertificates.generate()
        let first = try await HTTPSReceiver.start(certificates: certificates)
        let port = first.port
        first.stop()
        let h = try StageHarness(target: Self.phone(first))
        let transport = RecordingTransport(clock: h.clock)
        var back: HTTPSReceiver?
        try await h.run(transport) { _ in
            for (rule, kind) in [("temp-high", AlertEventKind.fired), ("ato", .fired), ("temp-high", .resolved), ("ato", .resolved)] {
                h.log.append(rule, kind, rule == "temp-high" ? .critical : .warning, at: h.now)
                await h.advance(.seconds(40))
            }
            await h.advance(.seconds(20 * 60))
            #expect(try h.ledger.cursor(target: "phone").deliveredThrough == 0, "nothing delivered while down")
            back = try await HTTPSReceiver.start(certificates: certificates, port: port)
            await h.advance(.seconds(30 * 60))
        }
        let receiver = try #require(back)
        defer { withExtendedLifetime(certificates) { receiver.stop() } }
        #expect(shownEvents(try receiver.requests()) == ["temp-high fired", "ato fired", "temp-high resolved", "ato resolved"])
        #expect(transport.attempts.contains { if case .networkError = $0.outcome { true } else { false } })
        #expect(try h.ledger.cursor(target: "phone").deliveredThrough == 4)
    }

    @Test func a500ThenA429WithRetryAfterThenA200AreSpacedAsConfigured() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { withExtendedLifetime(certificates) { receiver.stop() } }
        try receiver.script([.init(status: 500, body: "upstream down"), .init(status: 429, headers: ["Retry-After": "120"], body: "slow down"),
                             .init(status: 200, body: "ok")])
        let h = try StageHarness(target: Self.phone(receiver))
        let transport = RecordingTransport(clock: h.clock)
        let t0 = h.now
        try await h.run(transport) { _ in
            h.log.append("temp-high", .fired, .critical, at: h.now)
            await h.advance(.seconds(30 + 600 + 600))
        }
        let attempts = transport.attempts
        #expect(attempts.map(\.outcome) == [.http(status: 500, reason: "upstream down"),
                                            .http(status: 429, reason: "slow down", retryAfter: "120"), .accepted])
        // The spacing DeliveryState decides from the same seed: a full-jitter backoff, never before Retry-After.
        var expected = DeliveryState()
        var random = SeededRandom(seed: 7)
        var at = t0 + 30_000
        var times = [at]
        for outcome in attempts.dropLast().map(\.outcome) {
            guard case .retry(let next, _) = expected.record(outcome, for: SequenceRange(first: 1, last: 1), nowMillis: at, random: &random) else {
                Issue.record("\(outcome) is retried")
                return
            }
            times.append(next)
            at = next
        }
        #expect(attempts.map(\.atMillis) == times)
        #expect(times[2] - times[1] >= 120_000)
        let requests = try receiver.requests()
        #expect(requests.count == 3 && Set(requests.map(\.body)).count == 1, "the same message each time")
    }

    @Test func a400IsDeadLetteredWithTheReasonThenDeliveredAfterRequeue() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { withExtendedLifetime(certificates) { receiver.stop() } }
        try receiver.script([.init(status: 400, body: "invalid topic"), .init(status: 200, body: "ok")])
        let h = try StageHarness(target: Self.phone(receiver))
        try await h.run(RecordingTransport(clock: h.clock)) { _ in
            h.log.append("temp-high", .fired, .critical, at: h.now)
            await h.advance(.seconds(30))
            let letters = try h.ledger.openDeadLetters(target: "phone")
            #expect(letters.map(\.status) == [400] && letters.map(\.reason) == ["invalid topic"])
            #expect(try h.ledger.requeue(target: "phone", nowMillis: h.now) == 1)
            await h.advance(.seconds(600))
        }
        let requests = try receiver.requests()
        #expect(shownEvents(requests) == ["temp-high fired", "temp-high fired"])
        #expect(try h.ledger.openDeadLetters(target: "phone").isEmpty && h.ledger.requeuedLetters(target: "phone").isEmpty)
        #expect(try h.ledger.cursor(target: "phone").eventsSent == 1, "counted once, when redelivered")
    }

    @Test func anOutageLongerThanMaxAgeIsOneSummaryWithExactCountsThenWhatStillFires() async throws {
        let certificates = try await TestCertificates.generate()
        let first = try await HTTPSReceiver.start(certificates: certificates)
        let port = first.port
        first.stop()
        let h = try StageHarness(target: Self.phone(first, maxAge: .seconds(3600), repeatInterval: .seconds(7 * 86_400)))
        var back: HTTPSReceiver?
        try await h.run(RecordingTransport(clock: h.clock)) { _ in
            h.log.setFiring([FiringRule(ruleID: "temp-high", sensorID: "temp", severity: .critical, firingSinceMillis: h.now,
                                        message: "Tank at 28.4 °C (limit 28.0)")])
            for (rule, kind) in [("temp-high", AlertEventKind.fired), ("ph", .fired), ("ph", .resolved), ("ato", .fired), ("ato", .resolved)] {
                h.log.append(rule, kind, rule == "temp-high" ? .critical : .warning, at: h.now)
                await h.advance(.seconds(1))
            }
            await h.advance(.seconds(2 * 3600))
            back = try await HTTPSReceiver.start(certificates: certificates, port: port)
            await h.advance(.seconds(15 * 60))
        }
        let receiver = try #require(back)
        defer { withExtendedLifetime(certificates) { receiver.stop() } }
        let requests = try receiver.requests()
        #expect(requests.map { $0.header("X-Title") } == ["reef-1: 5 alerts while offline", "reef-1: temp-high still firing"])
        #expect(requests.map(\.text) == [
            "5 alerts from 14:00:00 to 14:00:04 while offline: 3 fired, 2 resolved — edge-agent alerts history",
            "temp-high (critical) firing since 14:00:00: Tank at 28.4 °C (limit 28.0)",
        ])
    }

    @Test func twoHundredEventsInAMinuteAreABoundedNumberOfMessagesWithExactCounts() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { withExtendedLifetime(certificates) { receiver.stop() } }
        let h = try StageHarness(target: Self.phone(receiver, rateCap: .init(messages: 3, per: .seconds(3600))))
        try await h.run(RecordingTransport(clock: h.clock)) { _ in
            for index in 0..<200 {
                h.log.append("r\(index % 10)", index % 2 == 0 ? .fired : .resolved, at: h.now)
                await h.advance(.milliseconds(300))
            }
            await h.advance(.seconds(3600))
        }
        let requests = try receiver.requests()
        #expect(requests.map { $0.header("X-Title") } == [
            "reef-1: 50 alerts (25 fired, 25 resolved)", "reef-1: 50 alerts (25 fired, 25 resolved)", "reef-1: 100 more alerts",
        ])
        #expect(requests.last?.text == "100 more alerts since 14:00:30: 50 fired, 50 resolved — edge-agent alerts history")
        #expect(try h.ledger.cursor(target: "phone").deliveredThrough == 200)
    }

    @Test func aSilencedRuleSendsNothing() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { withExtendedLifetime(certificates) { receiver.stop() } }
        let h = try StageHarness(target: Self.phone(receiver))
        try await h.run(RecordingTransport(clock: h.clock)) { _ in
            h.log.append("temp-high", .fired, .critical, at: h.now, silenced: true)
            await h.advance(.seconds(5))
            h.log.append("ato", .fired, at: h.now)
            await h.advance(.seconds(120))
        }
        #expect(shownEvents(try receiver.requests()) == ["ato fired"])
    }

    @Test func acknowledgingStopsTheRepeats() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { withExtendedLifetime(certificates) { receiver.stop() } }
        let h = try StageHarness(target: Self.phone(receiver, repeatInterval: .seconds(3600)))
        let rule = FiringRule(ruleID: "temp-high", sensorID: "temp", severity: .critical, firingSinceMillis: h.now, message: "hot")
        try await h.run(RecordingTransport(clock: h.clock)) { _ in
            h.log.setFiring([rule])
            await h.advance(.seconds(3600))
            var acknowledged = rule
            acknowledged.acknowledged = true
            h.log.setFiring([acknowledged])
            await h.advance(.seconds(5 * 3600))
        }
        #expect(try receiver.requests().map { $0.header("X-Title") } == ["reef-1: temp-high still firing"])
    }

    @Test func aCriticalEventGoesAheadOfABacklogOfWarnings() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { withExtendedLifetime(certificates) { receiver.stop() } }
        let h = try StageHarness(target: Self.phone(receiver))
        try await h.run(RecordingTransport(clock: h.clock)) { _ in
            for _ in 0..<120 { h.log.append("ph-low", .fired, at: h.now) }
            h.log.append("temp-high", .fired, .critical, at: h.now)
            await h.advance(.seconds(31))
        }
        let requests = try receiver.requests()
        #expect(requests.map { $0.header("X-Title") } == [
            "reef-1: temp-high fired", "reef-1: 50 alerts (50 fired)", "reef-1: 50 alerts (50 fired)", "reef-1: 20 alerts (20 fired)",
        ])
        #expect(requests.first?.header("X-Priority") == "5")
        #expect(shownEvents(requests).count == 121)
    }
}
