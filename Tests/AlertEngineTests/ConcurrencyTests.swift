import AlertEngine
import Dispatch
import EdgeCore
import Foundation
import GRDB
import Synchronization
import Testing

/// The engine's lock guards memory only: a sensor whose transition waits on SQLite does not
/// hold up another sensor's evaluation, and transitions commit in the order they were computed.
@Suite struct ConcurrencyTests {
    @Test func aWriteWaitingOnSQLiteDoesNotHoldUpAnotherSensor() throws {
        let h = try Harness()
        let engine = try h.engine([
            AlertRule(id: "a_hot", sensorID: "a", condition: .threshold(op: .greater, value: 28, clear: nil)),
            AlertRule(id: "b_hot", sensorID: "b", condition: .threshold(op: .greater, value: 28, clear: nil)),
        ])
        // Another connection holds the write lock; the engine's pool waits up to its busy timeout.
        var holdsLock = Configuration()
        holdsLock.allowsUnsafeTransactions = true
        let blocker = try DatabaseQueue(path: h.path, configuration: holdsLock)
        try blocker.inDatabase { db in try db.execute(sql: "BEGIN EXCLUSIVE") }

        let results = Results()
        let group = DispatchGroup()
        func evaluate(_ sensor: String, _ value: Double) {
            let sample = h.reading(sensor, value)
            group.enter()
            DispatchQueue.global().async {
                let kinds = (try? engine.evaluate(sample)).map(kinds) ?? []
                results.kinds.withLock { $0[sensor] = kinds }
                group.leave()
            }
        }
        // Half a second for each task to take the lock and queue its write, well inside the
        // five-second busy timeout the writes wait on.
        evaluate("a", 29)
        Thread.sleep(forTimeInterval: 0.5)
        evaluate("b", 29)
        Thread.sleep(forTimeInterval: 0.5)
        // Sensor a's transition is still waiting for SQLite, b's is queued behind it; a sample
        // that changes nothing returns at once, without waiting on either.
        #expect(try engine.evaluate(h.reading("a", 29.5)) == [])
        #expect(try engine.evaluate(h.reading("b", 29.5)) == [])
        #expect(results.kinds.withLock { $0.isEmpty })

        try blocker.inDatabase { db in try db.execute(sql: "COMMIT") }
        group.wait()
        #expect(results.kinds.withLock { $0 } == ["a": [.fired], "b": [.fired]])
        // Committed in the order the lock computed them.
        #expect(try h.store.events(afterSequence: 0, limit: 10).map(\.ruleID) == ["a_hot", "b_hot"])
    }

    final class Results: Sendable {
        let kinds = Mutex<[String: [AlertEvent.Kind]]>([:])
    }
}
