import EdgeTesting
import GRDB
import Notify
import NotifyDelivery
import Testing
import Wire

/// The event log as an array, as the daemon's feed over `alert_events` will serve it.
struct ArrayEventSource: NotifyEventSource {
    var events: [WireAlertEvent]
    func notifyEvents(afterSequence: Int64, limit: Int) throws -> [WireAlertEvent] {
        Array(events.filter { $0.sequence > afterSequence }.prefix(limit))
    }
    func notifyEventBacklog(afterSequence: Int64) throws -> Int { events.filter { $0.sequence > afterSequence }.count }
}

@Suite struct NotifyStatusTests {
    @Test func statusCountsPendingDeadAndTheOldestWait() throws {
        let directory = try TemporaryDirectory("notify-status")
        let ledger = try NotifyLedger(writer: try DatabasePool(path: directory.databasePath))
        let source = ArrayEventSource(events: [Heater.fired, Heater.float, Heater.resolved])
        try ledger.register(target: "phone", startAfter: 40)
        try ledger.recordDeadLetter(target: "phone", range: SequenceRange(first: 41, last: 41), status: 403,
                                    reason: "forbidden", nowMillis: Heater.fired.timestampMillis, nextAttemptMillis: nil)
        try ledger.recordFailure(target: "phone", reason: "HTTP 503", nowMillis: Heater.float.timestampMillis + 1_000,
                                 nextAttemptMillis: Heater.float.timestampMillis + 5_000)
        let status = try NotifyStatus.read(ledger: ledger, target: "phone", events: source,
                                           nowMillis: Heater.float.timestampMillis + 60_000)
        #expect(status.deliveredThrough == 41 && status.openDeadLetters == 1 && status.retries == 1)
        #expect(status.pending == 2 && status.oldestPendingAge == .seconds(60))
        #expect(status.lastError == "HTTP 503" && status.nextAttemptMillis == Heater.float.timestampMillis + 5_000)

        try ledger.recordDelivery(target: "phone", range: SequenceRange(first: 42, last: 43), events: 2,
                                  nowMillis: Heater.resolved.timestampMillis)
        let caughtUp = try NotifyStatus.read(ledger: ledger, target: "phone", events: source, nowMillis: 0)
        #expect(caughtUp.pending == 0 && caughtUp.oldestPendingAge == nil && caughtUp.lastError == nil)
        #expect(caughtUp.messagesSent == 1 && caughtUp.eventsSent == 2)
    }
}
