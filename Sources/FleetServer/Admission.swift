import Synchronization

/// Counts batches being stored and refuses one beyond the limit, so overload becomes a
/// 503 the device backs off from rather than a queue of open transactions.
final class AdmissionGate: Sendable {
    private let inFlight = Mutex(0)
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Runs `operation` if a slot is free; `nil` if not.
    func run<T: Sendable>(_ operation: () async throws -> T) async throws -> T? {
        let admitted = inFlight.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else { return nil }
        defer { inFlight.withLock { $0 -= 1 } }
        return try await operation()
    }
}

/// Raised when PostgreSQL did not answer within the configured time.
struct DatabaseTimeout: Error {}

/// Runs `operation`, giving up after `timeout`: a lease request against an unreachable
/// PostgreSQL would otherwise hold the device's request open for as long as curl lets it.
func withDeadline<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw DatabaseTimeout()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
