import Synchronization

/// Raised when an operation run by `withDeadline` or `withStartDeadline` did not answer
/// (or start) in time.
struct DeadlineExceeded: Error {}

/// Runs `operation`, giving up after `timeout`: a lease request against an unreachable
/// PostgreSQL would otherwise hold the device's request open for as long as curl lets it.
/// Only for work that changes nothing (reads): abandoning it cannot leave the answer
/// contradicting the database.
func withDeadline<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await firstOf(operation, orAfter: timeout, giveUp: { true })
}

/// Where a write run by `withStartDeadline` is.
private enum WritePhase { case waiting, started, abandoned }

/// Runs a write that must *start* within `timeout` and, once started, is never abandoned:
/// its answer is awaited whatever it takes (PostgreSQL's `statement_timeout` bounds it), so
/// the server never answers "failed" for a batch that then commits. `operation` calls the
/// closure it is given when it is about to write; that throws `DeadlineExceeded` if the
/// deadline passed first, and then nothing is written.
func withStartDeadline<T: Sendable>(
    _ timeout: Duration, _ operation: @escaping @Sendable (_ starting: @Sendable () throws -> Void) async throws -> T
) async throws -> T {
    let phase = Mutex(WritePhase.waiting)
    let starting: @Sendable () throws -> Void = {
        try phase.withLock { phase in
            guard phase != .abandoned else { throw DeadlineExceeded() }
            phase = .started
        }
    }
    return try await firstOf({ try await operation(starting) }, orAfter: timeout, giveUp: {
        phase.withLock { phase in
            guard phase == .waiting else { return false }
            phase = .abandoned
            return true
        }
    })
}

/// `operation`'s result, or `DeadlineExceeded` once `timeout` has passed and `giveUp` agrees,
/// whichever comes first, without waiting for the other. A task group would not do: leaving
/// it awaits every child, and a connection lease waiting inside PostgresClient does not end
/// when cancelled, so the 503 would go out only when PostgreSQL came back (seen in CI: POSTs
/// held for over a minute behind a 5 s deadline). The abandoned operation is cancelled and
/// finishes in the background; `withStartDeadline`'s `starting` keeps it from writing.
private func firstOf<T: Sendable>(
    _ operation: @escaping @Sendable () async throws -> T, orAfter timeout: Duration, giveUp: @escaping @Sendable () -> Bool
) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let answer = Answer(continuation)
        let work = Task {
            do { answer.give(.success(try await operation())) } catch { answer.give(.failure(error)) }
        }
        Task {
            guard (try? await Task.sleep(for: timeout)) != nil, giveUp() else { return }
            work.cancel()
            answer.give(.failure(DeadlineExceeded()))
        }
    }
}

/// A continuation resumed by the first of several racers; the others' answers are dropped.
private final class Answer<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = Mutex(continuation) }

    func give(_ result: Result<T, any Error>) {
        continuation.withLock { $0.take() }?.resume(with: result)
    }
}
