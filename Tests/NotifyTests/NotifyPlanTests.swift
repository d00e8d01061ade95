import Notify
import NotifyDelivery
import Testing
import Wire

@Suite struct NotifyPlanTests {
    let target = NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.sh/reef")
    static let t0: Int64 = 1_796_306_400_000 // 2026-12-03 14:00:00 UTC

    func event(_ sequence: Int64, _ kind: AlertEventKind = .fired, at offsetSeconds: Int64, severity: AlertSeverity = .critical,
               silenced: Bool = false) -> WireAlertEvent {
        WireAlertEvent(sequence: sequence, ruleID: "r\(sequence)", sensorID: "temp", kind: kind, severity: severity, value: nil,
                       threshold: nil, timestampMillis: Self.t0 + offsetSeconds * 1000, activeSinceMillis: nil,
                       message: "m\(sequence)", silenced: silenced)
    }

    @Test func nothingPendingIsIdleAndUnwantedEventsAreSkipped() {
        #expect(NotifyPlan.next(pending: [], target: target, nowMillis: Self.t0) == .idle)
        let unwanted = [event(1, at: 0, severity: .info), event(2, at: 1, silenced: true), event(3, .acknowledged, at: 2)]
        #expect(NotifyPlan.next(pending: unwanted, target: target, nowMillis: Self.t0 + 60_000) == .skip(through: 3))
    }

    @Test func aGroupWaitsForItsWindowThenGoesAsOneMessageWithTheSkippedEventsInItsRange() {
        let pending = [event(1, at: 0, severity: .info), event(2, at: 5), event(3, at: 10, silenced: true),
                       event(4, .resolved, at: 30), event(5, at: 35)]
        #expect(NotifyPlan.next(pending: pending, target: target, nowMillis: Self.t0 + 20_000) == .wait(untilMillis: Self.t0 + 35_000))
        // At 36 s the window of event 2 (5 s…35 s) is closed: 2 and 4 go, 5 opens the next group.
        #expect(NotifyPlan.next(pending: pending, target: target, nowMillis: Self.t0 + 36_000)
            == .send(events: [pending[1], pending[3]], range: SequenceRange(first: 1, last: 4)))
    }

    @Test func aMessageHoldsABoundedNumberOfEvents() {
        let pending = (1...10).map { event(Int64($0), at: Int64($0)) }
        #expect(NotifyPlan.next(pending: pending, target: target, nowMillis: Self.t0 + 60_000, maxEventsPerMessage: 4)
            == .send(events: Array(pending[0..<4]), range: SequenceRange(first: 1, last: 4)))
    }

    @Test func eventsOlderThanMaxAgeCollapseIntoOneSummaryWithExactCounts() {
        // Offline from 14:00 to 22:00; max_age 6 h puts the cutoff at 16:00.
        let pending = [event(1, at: 0), event(2, .resolved, at: 600), event(3, at: 900, severity: .info),
                       event(4, .failSafe, at: 1800), event(5, at: 7 * 3600 + 3000)]
        let now = Self.t0 + 8 * 3_600_000
        guard case .summary(let summary, let range) = NotifyPlan.next(pending: pending, target: target, nowMillis: now) else {
            Issue.record("expected a summary")
            return
        }
        #expect(range == SequenceRange(first: 1, last: 4))
        #expect(summary.count == 3 && summary.byKind == [AlertEventKind.fired: 1, .resolved: 1, .failSafe: 1])
        #expect(summary.text == "3 alerts from 14:00:00 to 14:30:00 while offline: 1 fired, 1 resolved, 1 fail-safe — edge-agent alerts history")
        // What is left is fresh and goes as usual.
        #expect(NotifyPlan.next(pending: [pending[4]], target: target, nowMillis: now)
            == .send(events: [pending[4]], range: SequenceRange(first: 5, last: 5)))
    }

    @Test func theRateWindowCountsOnlyItsPeriodAndSaysWhenASlotFrees() {
        var rate = RateWindow(cap: .init(messages: 3, per: .seconds(60)))
        for second: Int64 in [0, 10, 20] { rate.record(nowMillis: Self.t0 + second * 1000) }
        #expect(rate.remaining(nowMillis: Self.t0 + 30_000) == 0)
        #expect(rate.blockedUntil(nowMillis: Self.t0 + 30_000) == Self.t0 + 60_000)
        #expect(rate.remaining(nowMillis: Self.t0 + 60_000) == 1 && rate.blockedUntil(nowMillis: Self.t0 + 60_000) == nil)
        rate.record(nowMillis: Self.t0 + 61_000)
        #expect(rate.sentMillis == [Self.t0 + 10_000, Self.t0 + 20_000, Self.t0 + 61_000], "never more than the cap is kept")
    }

    @Test func theLastMessageOfAPeriodSummarisesEverythingPendingAndThenTheTargetWaits() {
        let capped = NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.sh/reef", groupingWindow: .seconds(10),
                                  rateCap: .init(messages: 2, per: .seconds(3600)))
        var rate = RateWindow(cap: capped.rateCap)
        rate.record(nowMillis: Self.t0)
        // 200 events in a minute, every third one a resolution.
        let pending: [WireAlertEvent] = (1...200).map { (index: Int) -> WireAlertEvent in
            let kind: AlertEventKind = index % 3 == 0 ? .resolved : .fired
            return event(Int64(index), kind, at: Int64(index * 60 / 200))
        }
        let now = Self.t0 + 61_000
        guard case .summary(let summary, let range) = NotifyPlan.next(pending: pending, target: capped, nowMillis: now, rate: rate) else {
            Issue.record("expected a summary")
            return
        }
        #expect(range == SequenceRange(first: 1, last: 200))
        #expect(summary.count == 200 && summary.byKind == [AlertEventKind.fired: 134, .resolved: 66])
        #expect(summary.text == "200 more alerts since 14:00:00: 134 fired, 66 resolved — edge-agent alerts history")
        rate.record(nowMillis: now)
        let next = [event(201, at: 70)]
        #expect(NotifyPlan.next(pending: next, target: capped, nowMillis: now + 1000, rate: rate)
            == .wait(untilMillis: Self.t0 + 3_600_000))
    }
}
