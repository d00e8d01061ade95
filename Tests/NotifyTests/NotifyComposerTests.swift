import Notify
import NotifyDelivery
import Testing
import Wire

/// The composer's two whole-window rules, as pure tables: urgent events ahead of a backlog
/// without reordering any rule, and one line for a flapping rule.
@Suite struct NotifyComposerTests {
    static let target = NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef", groupingWindow: .seconds(30))
    static let now: Int64 = 1_000_000

    static func event(_ sequence: Int64, _ rule: String, _ kind: AlertEventKind, _ severity: AlertSeverity = .warning,
                      at millis: Int64 = 0) -> WireAlertEvent {
        WireAlertEvent(sequence: sequence, ruleID: rule, sensorID: "s", kind: kind, severity: severity, value: nil, threshold: nil,
                       timestampMillis: millis, activeSinceMillis: nil, message: "\(rule) \(kind.rawValue)")
    }

    @Test func urgentEventsBehindTheNextMessageGoFirstWithTheirRulesLaterEvents() {
        // 60 warnings fill the next message (50); behind them a critical rule fires and resolves.
        var pending = (1...60).map { Self.event(Int64($0), "ph", .fired) }
        pending += [Self.event(61, "temp", .fired, .critical), Self.event(62, "ph", .resolved), Self.event(63, "temp", .resolved, .critical)]
        let step = NotifyComposer.next(pending: pending, sentAhead: [], target: Self.target, nowMillis: Self.now, rate: nil)
        guard case .sendAhead(.events(let events, let range), let sequences) = step else {
            Issue.record("expected a priority message, got \(step)")
            return
        }
        #expect(events.map(\.sequence) == [61, 63] && sequences == [61, 63] && range == SequenceRange(first: 61, last: 63))
        // Sent, they are left out of the cursor's messages, which go on in order.
        let next = NotifyComposer.next(pending: pending, sentAhead: [61, 63], target: Self.target, nowMillis: Self.now, rate: nil)
        guard case .send(.events(let group, _), let cursorRange) = next else {
            Issue.record("expected the cursor's message, got \(next)")
            return
        }
        #expect(group.map(\.sequence) == Array(1...50) && cursorRange == SequenceRange(first: 1, last: 50))
    }

    @Test func aRuleWithAnEventInTheNextMessageIsNotPulledForward() {
        var pending = [Self.event(1, "temp", .fired, .critical)] + (2...60).map { Self.event(Int64($0), "ph", .fired) }
        pending.append(Self.event(61, "temp", .resolved, .critical))
        pending.append(Self.event(62, "temp", .fired, .critical))
        let step = NotifyComposer.next(pending: pending, sentAhead: [], target: Self.target, nowMillis: Self.now, rate: nil)
        guard case .send(_, let range) = step else {
            Issue.record("temp's later events must wait behind its first, got \(step)")
            return
        }
        #expect(range == SequenceRange(first: 1, last: 50))
    }

    @Test func aFlappingRulesFlapsBeforeItsFlappingEventAreLeftOut() {
        let events = [Self.event(1, "temp", .fired), Self.event(2, "ph", .fired), Self.event(3, "temp", .resolved),
                      Self.event(4, "temp", .fired), Self.event(5, "temp", .flapping), Self.event(6, "temp", .actuated)]
        #expect(NotifyComposer.collapsingFlaps(events).map(\.sequence) == [2, 5, 6])
        #expect(NotifyComposer.collapsingFlaps(Array(events.prefix(4))).map(\.sequence) == [1, 2, 3, 4], "no flapping event, no change")
    }
}
