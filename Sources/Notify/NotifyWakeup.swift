import EdgeCore
import Synchronization

/// Wakes a sleeping delivery stage early: the daemon rings it when the alert engine records
/// an event, so a message goes within its grouping window rather than at the next poll. A
/// ring while nobody sleeps is kept (one), so an event recorded between two checks is not
/// missed; the poll interval covers a ring that never comes.
public final class NotifyWakeup: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    public func ring() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let waiter = s.waiter else { s.rung = true; return nil }
            s.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Sleeps on `clock` for `duration`, or until rung, or until cancelled.
    public func sleep(for duration: Duration, on clock: any DeviceClock) async {
        if state.withLock({ s in defer { s.rung = false }; return s.rung }) { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(for: duration) }
            group.addTask { await self.waitForRing() }
            await group.next()
            group.cancelAll()
        }
        state.withLock { $0.rung = false }
    }

    private func waitForRing() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.rung || Task.isCancelled { s.rung = false; return true }
                    s.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            // A continuation does not see cancellation by itself: resume it.
            ring()
        }
    }
}
