import Synchronization

/// Runs `operation` in a task of its own and returns its answer, or throws
/// `CancellationError` as soon as the calling task is cancelled, leaving the operation to end
/// in the background. A query waiting for a connection inside PostgresClient does not end
/// when cancelled, and when an application is cancelled its pool and its client stop
/// together: without this, a worker pool waiting on such a query never stops, and neither
/// does the server. Whatever an abandoned query does is fenced like any late word: a claim's
/// leases expire and the rescuer hands the jobs on.
func abandoningOnCancel<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let race = Race<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            guard race.wait(continuation) else { return }
            race.started(Task { race.finish(await Result(catching: operation)) })
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The first answer wins; a cancellation before the operation started answers at once.
private final class Race<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var answer: Result<T, any Error>?
        var work: Task<Void, Never>?
    }
    private let state = Mutex(State())

    /// Stores the continuation; false (and resumed) when an answer came first.
    func wait(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let early = state.withLock { state -> Result<T, any Error>? in
            if let answer = state.answer { return answer }
            state.continuation = continuation
            return nil
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    func started(_ work: Task<Void, Never>) {
        let cancelled = state.withLock { state -> Bool in
            state.work = work
            return state.answer != nil
        }
        if cancelled { work.cancel() }
    }

    func finish(_ answer: Result<T, any Error>) {
        let (continuation, work) = state.withLock { state -> (CheckedContinuation<T, any Error>?, Task<Void, Never>?) in
            guard state.answer == nil else { return (nil, nil) }
            state.answer = answer
            defer { state.continuation = nil }
            return (state.continuation, state.work)
        }
        continuation?.resume(with: answer)
        work?.cancel()
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
