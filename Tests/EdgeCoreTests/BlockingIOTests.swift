import EdgeCore
import Foundation
import Synchronization
import Testing

/// Shared state the lane's closures write and the test reads.
private final class Record: Sendable {
    let order = Mutex<[Int]>([])
    let onLane = Mutex<[Bool]>([])
    let released = Mutex(false)
}

private struct Boom: Error {}

@Suite struct BlockingIOTests {
    /// The point of the lanes: blocking work runs on the lane's own threads, not on the
    /// cooperative pool, and a lane with one thread runs its work in submission order.
    @Test func workRunsOnTheLanesThreadInOrder() async throws {
        let lane = BlockingIO(name: "test-lane", threads: 1)
        let record = Record()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0 ..< 20 {
                try await Task.sleep(for: .milliseconds(1))
                group.addTask {
                    try await lane.run {
                        record.order.withLock { $0.append(i) }
                        record.onLane.withLock { $0.append(lane.isCurrent) }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(record.order.withLock { $0 } == Array(0 ..< 20))
        #expect(record.onLane.withLock { $0 } == Array(repeating: true, count: 20))
        #expect(!lane.isCurrent)
    }

    /// Blocking calls on the lane do not hold the cooperative pool: while both lane threads
    /// are blocked, a task on the pool still runs (were the lane on the pool, this would hang
    /// until the time limit fails it).
    @Test(.timeLimit(.minutes(1))) func aBlockedLaneLeavesThePoolFree() async throws {
        let lane = BlockingIO(name: "test-block", threads: 2)
        let record = Record()
        let blocked = (0 ..< 2).map { _ in
            Task {
                await lane.run {
                    while !record.released.withLock({ $0 }) { usleep(1_000) }
                    return 1
                }
            }
        }
        let answered = await Task.detached { 42 }.value
        #expect(answered == 42)
        record.released.withLock { $0 = true }
        var total = 0
        for task in blocked { total += await task.value }
        #expect(total == 2)
    }

    @Test func errorsReachTheCaller() async {
        await #expect(throws: Boom.self) { try await BlockingIO.storage.run { throw Boom() } }
    }
}

@Suite struct SampleTests {
    /// A filter chain keeps the worst quality it saw, so the order is the contract.
    @Test func qualityOrdersFromMostToLeastTrusted() {
        #expect([SampleQuality.suspect, .ok, .filtered].sorted() == [.ok, .filtered, .suspect])
        #expect(max(SampleQuality.filtered, .suspect) == .suspect)
    }

    @Test(arguments: [
        (SampleQuality.ok, 25.0, true), (.filtered, 25.0, true), (.suspect, 25.0, false),
        (.ok, Double.nan, false), (.ok, Double.infinity, false),
    ])
    func evidenceIsMeasuredFiniteAndUndoubted(quality: SampleQuality, value: Double, evidence: Bool) {
        let time = DeviceTime(unixMillis: 0, bootNanos: 0, synchronized: false)
        #expect(Sample(sensorID: "t", value: value, unit: "°C", quality: quality, time: time).isEvidence == evidence)
    }
}
