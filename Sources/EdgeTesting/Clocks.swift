import EdgeCore
import Synchronization

// Clocks for exact tests. Production code takes `any DeviceClock`; these are the two that
// tests inject, so they live in the testing product, not in the agent.

/// A clock that moves only when told to: by `advance`, or by a `sleep`, which advances
/// the clock by the slept duration and returns at once. Tests get exact time with it.
public final class ManualDeviceClock: DeviceClock {
    private let state: Mutex<DeviceTime>
    public let bootID: String

    public init(
        unixMillis: Int64 = 1_767_225_600_000, // 2026-01-01T00:00:00Z
        bootNanos: UInt64 = 10_000_000_000,
        synchronized: Bool = true,
        bootID: String = "test-boot"
    ) {
        self.state = Mutex(DeviceTime(unixMillis: unixMillis, bootNanos: bootNanos, synchronized: synchronized))
        self.bootID = bootID
    }

    public func now() -> DeviceTime { state.withLock { $0 } }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        advance(by: duration)
        await Task.yield()
    }

    /// Moves both clocks forward together.
    public func advance(by duration: Duration) {
        // Saturating: a test (or a fuzzed profile) may ask for any duration; time never traps.
        let nanos = UInt64(max(0, duration.saturatingNanos))
        state.withLock {
            $0.bootNanos = $0.bootNanos.addingReportingOverflow(nanos).overflow ? .max : $0.bootNanos + nanos
            let millis = Int64(nanos / 1_000_000)
            $0.unixMillis = $0.unixMillis.addingReportingOverflow(millis).overflow ? .max : $0.unixMillis + millis
        }
    }

    /// Steps the wall clock, as NTP or a user's `date -s` does; the monotonic clock is untouched.
    public func setWallClock(unixMillis: Int64, synchronized: Bool) {
        state.withLock {
            $0.unixMillis = unixMillis
            $0.synchronized = synchronized
        }
    }
}

/// A test clock whose `sleep` suspends until `advance` moves time past the sleeper's deadline.
///
/// `ManualDeviceClock` lets a sleeper move time itself, which serialises concurrent tasks;
/// this one keeps them concurrent, so a test can show that one task's long wait does not
/// delay another, at exact instants.
public final class SteppingClock: DeviceClock {
    fileprivate struct Sleeper {
        var deadline: UInt64
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    fileprivate struct State {
        /// Wall time is derived from the start, so sub-millisecond steps do not lose time.
        let start: DeviceTime
        var now: DeviceTime
        var sleepers: [Sleeper] = []
        var nextID: UInt64 = 0
        /// Tasks in `waitForSleepers`, each resumed once that many sleep here.
        var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state: Mutex<State>
    public let bootID: String

    public init(unixMillis: Int64 = 1_767_225_600_000, bootNanos: UInt64 = 10_000_000_000, bootID: String = "test-boot") {
        let start = DeviceTime(unixMillis: unixMillis, bootNanos: bootNanos, synchronized: true)
        self.state = Mutex(State(start: start, now: start))
        self.bootID = bootID
    }

    public func now() -> DeviceTime { state.withLock { $0.now } }

    /// Tasks currently suspended in `sleep`.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    public func sleep(for duration: Duration) async throws {
        let nanos = duration.saturatingNanos
        let id = state.withLock { s -> UInt64 in s.nextID += 1; return s.nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // A task cancelled before it got here ran `onCancel` with nothing to remove:
                // it must not register, or it would sleep until its deadline.
                let (registered, settled) = state.withLock { s -> (Bool, [CheckedContinuation<Void, Never>]) in
                    guard !Task.isCancelled else { return (false, []) }
                    let (deadline, overflow) = s.now.bootNanos.addingReportingOverflow(UInt64(max(0, nanos)))
                    s.sleepers.append(Sleeper(deadline: overflow ? .max : deadline, id: id, continuation: continuation))
                    return (true, s.settledWatchers())
                }
                if !registered { continuation.resume(throwing: CancellationError()) }
                for watcher in settled { watcher.resume() }
            }
        } onCancel: {
            let cancelled = state.withLock { s -> Sleeper? in
                guard let index = s.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return s.sleepers.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward by `duration`, waking sleepers one deadline at a time in order.
    /// Before each step it waits until `sleepers` tasks are suspended here, so every task
    /// woken by the previous step has run up to its next sleep: the steps are exact.
    public func advance(by duration: Duration, settledAt sleepers: Int) async {
        let (sum, overflow) = now().bootNanos.addingReportingOverflow(UInt64(max(0, duration.saturatingNanos)))
        let target = overflow ? UInt64.max : sum
        while true {
            await waitForSleepers(sleepers)
            let due = state.withLock { s -> [Sleeper] in
                guard let earliest = s.sleepers.map(\.deadline).min(), earliest <= target else { return [] }
                s.move(to: earliest)
                let due = s.sleepers.filter { $0.deadline == earliest }
                s.sleepers.removeAll { $0.deadline == earliest }
                return due
            }
            if due.isEmpty { break }
            for sleeper in due { sleeper.continuation.resume() }
        }
        state.withLock { $0.move(to: target) }
    }

    /// Suspends until at least `count` tasks sleep on this clock. A registered waiter, not a
    /// `Task.yield` loop: on a 2-core machine a spinning test starves every other test's tasks.
    public func waitForSleepers(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                guard s.sleepers.count < count else { return true }
                s.watchers.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

}

extension SteppingClock.State {
    /// Removes and returns the watchers whose count of sleepers is reached.
    fileprivate mutating func settledWatchers() -> [CheckedContinuation<Void, Never>] {
        let count = sleepers.count
        let settled = watchers.filter { $0.count <= count }.map(\.continuation)
        watchers.removeAll { $0.count <= count }
        return settled
    }

    fileprivate mutating func move(to bootNanos: UInt64) {
        guard bootNanos > now.bootNanos else { return }
        now.bootNanos = bootNanos
        now.unixMillis = start.unixMillis + Int64((bootNanos - start.bootNanos) / 1_000_000)
    }
}
