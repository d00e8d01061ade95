import EdgeTesting
import GRDB
import Notify
import NotifyDelivery
import Testing
import Wire

/// The ledger on a real SQLite file, reopened the way a restarted daemon or the CLI opens it.
@Suite struct NotifyLedgerTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory("notify-ledger") }

    func open() throws -> (NotifyLedger, DatabasePool) {
        let pool = try DatabasePool(path: directory.databasePath)
        return (try NotifyLedger(writer: pool), pool)
    }

    @Test func aNewTargetStartsAfterTheNewestEventAndKeepsItsPlaceAcrossRestarts() throws {
        let (ledger, _) = try open()
        try ledger.register(target: "phone", startAfter: 40)
        try ledger.recordDelivery(target: "phone", range: SequenceRange(first: 41, last: 43), events: 2, nowMillis: 5_000)
        let (reopened, _) = try open()
        try reopened.register(target: "phone", startAfter: 100)
        let cursor = try reopened.cursor(target: "phone")
        #expect(cursor.deliveredThrough == 43)
        #expect(cursor.messagesSent == 1 && cursor.eventsSent == 2 && cursor.lastDeliveredMillis == 5_000)
        #expect(cursor.inFlight == nil && cursor.lastError == nil)
    }

    @Test func theMessageInFlightGoesAgainUnchangedAfterACrash() throws {
        let (ledger, _) = try open()
        try ledger.register(target: "phone", startAfter: 40)
        #expect(try ledger.beginAttempt(target: "phone", range: SequenceRange(first: 41, last: 43)) == SequenceRange(first: 41, last: 43))
        // kill -9 here: the service may have the message, the ledger does not know.
        let (reopened, _) = try open()
        #expect(try reopened.cursor(target: "phone").inFlight == SequenceRange(first: 41, last: 43))
        #expect(try reopened.beginAttempt(target: "phone", range: SequenceRange(first: 41, last: 45)) == SequenceRange(first: 41, last: 43),
                "the same range, hence the same idempotency key")
        try reopened.recordDelivery(target: "phone", range: SequenceRange(first: 41, last: 43), events: 3, nowMillis: 1)
        #expect(try reopened.beginAttempt(target: "phone", range: SequenceRange(first: 44, last: 45)) == SequenceRange(first: 44, last: 45))
    }

    @Test func theCursorMovesOnlyTogetherWithTheDeliveryRecord() throws {
        let (ledger, pool) = try open()
        try ledger.register(target: "phone", startAfter: 40)
        try ledger.recordFailure(target: "phone", reason: "HTTP 503", nowMillis: 1_000, nextAttemptMillis: 3_000)
        // The second statement of the delivery fails: the first must not stay.
        try pool.write { db in
            try db.execute(sql: "CREATE TRIGGER fail_outcome BEFORE UPDATE OF last_error ON notify_cursor BEGIN SELECT RAISE(ABORT, 'disk gone'); END")
        }
        #expect(throws: (any Error).self) {
            try ledger.recordDelivery(target: "phone", range: SequenceRange(first: 41, last: 43), events: 3, nowMillis: 2_000)
        }
        var cursor = try ledger.cursor(target: "phone")
        #expect(cursor.deliveredThrough == 40 && cursor.messagesSent == 0 && cursor.lastError == "HTTP 503")
        // Likewise a dead letter without its cursor move.
        try pool.write { db in
            try db.execute(sql: "DROP TRIGGER fail_outcome")
            try db.execute(sql: "CREATE TRIGGER fail_move BEFORE UPDATE OF delivered_through ON notify_cursor BEGIN SELECT RAISE(ABORT, 'disk gone'); END")
        }
        #expect(throws: (any Error).self) {
            try ledger.recordDeadLetter(target: "phone", range: SequenceRange(first: 41, last: 43), status: 400,
                                        reason: "bad", nowMillis: 2_000, nextAttemptMillis: nil)
        }
        #expect(try ledger.openDeadLetters(target: "phone").isEmpty)
        cursor = try ledger.cursor(target: "phone")
        #expect(cursor.deliveredThrough == 40 && cursor.retries == 1 && cursor.nextAttemptMillis == 3_000)
    }

    @Test func aDeadLetterIsRequeuedAndDeliveredWithoutResendingWhatCameAfter() throws {
        let (ledger, _) = try open()
        try ledger.register(target: "hook", startAfter: 0)
        try ledger.recordDeadLetter(target: "hook", range: SequenceRange(first: 1, last: 3), status: 400,
                                    reason: "unknown field 'severity'", nowMillis: 10_000, nextAttemptMillis: 11_000)
        try ledger.recordDelivery(target: "hook", range: SequenceRange(first: 4, last: 4), events: 1, nowMillis: 12_000)
        let letters = try ledger.openDeadLetters(target: "hook")
        #expect(letters.map(\.range) == [SequenceRange(first: 1, last: 3)])
        #expect(letters.first?.status == 400 && letters.first?.reason == "unknown field 'severity'" && letters.first?.atMillis == 10_000)

        // Another process (the CLI) re-queues.
        let (cli, _) = try open()
        #expect(try cli.requeue(target: "hook", nowMillis: 20_000) == 1)
        #expect(try ledger.openDeadLetters(target: "hook").isEmpty)
        var requeued = try ledger.requeuedLetters(target: "hook")
        #expect(requeued.map(\.requeuedAtMillis) == [20_000])

        // Refused again: open again, with the new answer.
        try ledger.recordRefusedAgain(letter: requeued[0], status: 422, reason: "still wrong", nowMillis: 21_000)
        #expect(try ledger.openDeadLetters(target: "hook").map(\.reason) == ["still wrong"])
        try ledger.requeue(target: "hook", nowMillis: 22_000)
        requeued = try ledger.requeuedLetters(target: "hook")
        try ledger.recordRedelivery(letter: requeued[0], events: 3, nowMillis: 23_000)
        #expect(try ledger.requeuedLetters(target: "hook").isEmpty && ledger.openDeadLetters(target: "hook").isEmpty)
        let cursor = try ledger.cursor(target: "hook")
        #expect(cursor.deliveredThrough == 4, "the cursor never went back")
        #expect(cursor.messagesSent == 2 && cursor.eventsSent == 4 && cursor.lastDeliveredMillis == 23_000)
    }

    @Test func theRateCapsSendTimesSurviveARestart() throws {
        let (ledger, _) = try open()
        try ledger.register(target: "phone", startAfter: 0)
        let cap = NotifyTarget.RateCap(messages: 2, per: .seconds(60))
        for (index, at) in [Int64(1_000), 2_000, 3_000].enumerated() {
            let sequence = Int64(index + 1)
            try ledger.recordDelivery(target: "phone", range: SequenceRange(first: sequence, last: sequence), events: 1,
                                      nowMillis: at, rateCap: cap)
        }
        let (reopened, _) = try open()
        let sent = try reopened.cursor(target: "phone").recentSentMillis
        #expect(sent == [2_000, 3_000])
        #expect(RateWindow(cap: cap, sentMillis: sent).blockedUntil(nowMillis: 4_000) == 62_000)
    }

    @Test func repeatsAreRememberedPerRuleAndCountAsSentWithoutMovingTheCursor() throws {
        let (ledger, _) = try open()
        try ledger.register(target: "phone", startAfter: 9)
        try ledger.recordRepeat(target: "phone", ruleID: "temp-high", nowMillis: 7_200_000)
        try ledger.recordRepeat(target: "phone", ruleID: "leak", nowMillis: 7_300_000)
        try ledger.recordRepeat(target: "phone", ruleID: "temp-high", nowMillis: 14_400_000)
        let (reopened, _) = try open()
        #expect(try reopened.repeatsSent(target: "phone") == ["temp-high": 14_400_000, "leak": 7_300_000])
        let cursor = try reopened.cursor(target: "phone")
        #expect(cursor.deliveredThrough == 9 && cursor.messagesSent == 3 && cursor.eventsSent == 0)
        #expect(cursor.recentSentMillis == [7_200_000, 7_300_000, 14_400_000])
    }

    @Test func skippedEventsMoveTheCursorWithoutCountingAsSent() throws {
        let (ledger, _) = try open()
        try ledger.register(target: "phone", startAfter: 0)
        try ledger.recordSkip(target: "phone", through: 7)
        try ledger.recordSkip(target: "phone", through: 3)
        let cursor = try ledger.cursor(target: "phone")
        #expect(cursor.deliveredThrough == 7, "a cursor never moves back")
        #expect(cursor.messagesSent == 0 && cursor.eventsSent == 0 && cursor.lastDeliveredMillis == nil)
    }

    @Test func theCLIReadsAnExistingLedgerWithoutCreatingOne() throws {
        let pool = try DatabasePool(path: directory.databasePath)
        #expect(try NotifyLedger(existing: pool) == nil)
        #expect(try pool.read { db in try db.tableExists("notify_cursor") } == false)
        let (ledger, _) = try open()
        try ledger.register(target: "phone", startAfter: 5)
        #expect(try NotifyLedger(existing: pool)?.cursor(target: "phone").deliveredThrough == 5)
    }

    @Test func anUnknownTargetIsNamedWithWhereToLook() throws {
        let (ledger, _) = try open()
        #expect(throws: NotifyLedgerError.unknownTarget("pager")) { try ledger.requeue(target: "pager", nowMillis: 0) }
        #expect(NotifyLedgerError.unknownTarget("pager").description
            == "no notify target 'pager' has run on this database; check the id against agent.yaml's notify: section")
    }

    @Test func aServicesReasonIsBounded() throws {
        let (ledger, _) = try open()
        try ledger.register(target: "hook", startAfter: 0)
        try ledger.recordDeadLetter(target: "hook", range: SequenceRange(first: 1, last: 1), status: 400,
                                    reason: String(repeating: "x", count: 10_000), nowMillis: 0, nextAttemptMillis: nil)
        #expect(try ledger.openDeadLetters(target: "hook").first?.reason.count == 500)
    }
}
