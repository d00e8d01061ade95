import Foundation
import Synchronization

/// The one home for blocking calls: SQLite commits, sysfs 1-Wire reads, libcurl transfers.
///
/// Swift's cooperative pool has one thread per core — two on a Pi Zero 2 or in CI — and a
/// blocking call on it stalls every task, polling and alerting included. Such calls run here
/// instead, on a few dedicated threads, the way SwiftNIO's `NIOThreadPool` gives an event loop
/// one place for blocking work. Each kind of work has its own lane so that a minute-long
/// upload cannot delay a commit, and a slow 1-Wire bus cannot delay either.
///
/// Who uses which lane: `ReadingWriter` commits and checkpoints on `storage`, `SysfsOneWire`
/// reads on `sensorBus`, Sync's `CurlTransport` transfers on `network`, Notify's
/// `CurlNotifyTransport` transfers on `notify` (a mail server that takes a minute to time out
/// must delay neither a sync batch nor the phone's message). Two things are deliberately not
/// here: threads that wait on a kernel event for as long as the agent runs (GPIO edge
/// watchers, Sources/HAL/Linux) keep their own thread; and an alert transition's commit, which
/// GRDB's serial writer performs while the poll task that caused it waits — rare (only on a
/// state change), one small transaction, and required to be durable before `evaluate`
/// returns (docs/ALERTS.md). A reading that changes no rule does no I/O at all.
public final class BlockingIO: @unchecked Sendable {
    /// Sensor reads that block in the kernel (sysfs w1: ~750 ms per DS18B20 conversion).
    /// Four threads: a typical tank has up to four probes on one bus.
    public static let sensorBus = BlockingIO(name: "io-sensor", threads: 4)
    /// SQLite writes and checkpoints. One thread: SQLite has one writer anyway.
    public static let storage = BlockingIO(name: "io-storage", threads: 1)
    /// Sync's libcurl transfers. One thread: batches are sequential by design.
    public static let network = BlockingIO(name: "io-network", threads: 1)
    /// Notify's libcurl transfers, one per target at a time. Four threads: each target sends
    /// on its own, so a dead mail server holds one thread and the phone's message takes
    /// another; a fifth target waits for a free thread, never for Sync. Threads start on
    /// first use, so a device without `notify:` has none.
    public static let notify = BlockingIO(name: "io-notify", threads: 4)

    /// Guards `pending`; signalled when work arrives.
    private let condition = NSCondition()
    private var pending: [@Sendable () -> Void] = []
    private var head = 0
    /// The lane's own threads, so work can check where it runs (`isCurrent`).
    private let members = Mutex<Set<ObjectIdentifier>>([])

    /// `name` and the thread's index name each thread as `top -H` and a debugger show it; keep
    /// it under 12 characters (Linux cuts thread names at 15).
    public init(name: String, threads: Int) {
        precondition(threads > 0, "a BlockingIO lane needs at least one thread")
        for index in 0 ..< threads {
            Thread.detachNewThread { [self] in
                Thread.current.name = "\(name)-\(index)"
                members.withLock { _ = $0.insert(ObjectIdentifier(Thread.current)) }
                serve()
            }
        }
    }

    /// Whether the caller runs on one of this lane's threads: for assertions and tests.
    public var isCurrent: Bool { members.withLock { $0.contains(ObjectIdentifier(Thread.current)) } }

    /// Runs `body` on one of this lane's threads and returns its result to the caller, which
    /// suspends (it does not block) meanwhile. Work starts in the order it was submitted.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            submit { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Runs a body that cannot throw.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            submit { continuation.resume(returning: body()) }
        }
    }

    private func submit(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        pending.append(work)
        condition.signal()
        condition.unlock()
    }

    private func serve() {
        while true {
            condition.lock()
            while head == pending.count { condition.wait() }
            let work = pending[head]
            head += 1
            // Compact once the consumed prefix dominates, so the array does not grow forever.
            if head > 64 && head * 2 > pending.count {
                pending.removeFirst(head)
                head = 0
            }
            condition.unlock()
            work()
        }
    }
}
