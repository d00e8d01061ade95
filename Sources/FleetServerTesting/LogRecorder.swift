import Logging
import Synchronization

/// Keeps what the server under test logs (warning and above, as the harness sets it), one
/// line per entry with its metadata sorted, so tests can assert what is logged and what is
/// not (a token, a password).
public final class LogRecorder: Sendable {
    private let entries = Mutex<[String]>([])

    public init() {}

    public var lines: [String] { entries.withLock { $0 } }

    /// A handler that appends to this recorder (warning and above).
    public func handler() -> any LogHandler { Handler(recorder: self) }

    private func append(_ line: String) {
        entries.withLock { $0.append(line) }
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            recorder.append(([event.level.rawValue, event.message.description] + fields).joined(separator: " "))
        }
    }
}
