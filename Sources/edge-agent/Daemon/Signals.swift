import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM/SIGINT (stop) and SIGHUP (reload) as an async sequence. The default handlers are
/// ignored first so that the signal reaches the dispatch source instead of killing us.
enum ProcessSignal: Sendable, Equatable {
    case stop(Int32)
    case reload

    static func stream() -> AsyncStream<ProcessSignal> {
        AsyncStream { continuation in
            var sources: [any DispatchSourceSignal] = []
            for (number, event) in [(SIGTERM, ProcessSignal.stop(SIGTERM)), (SIGINT, .stop(SIGINT)), (SIGHUP, .reload)] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { continuation.yield(event) }
                source.resume()
                sources.append(source)
            }
            let held = UncheckedBox(sources)
            continuation.onTermination = { _ in held.value.forEach { $0.cancel() } }
        }
    }
}

/// Dispatch sources are thread-safe but not marked Sendable.
private final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
