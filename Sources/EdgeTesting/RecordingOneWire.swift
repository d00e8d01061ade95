import HAL
import Synchronization

/// A 1-Wire bus that is given the exact file reads a driver must make, in order, and answers
/// them with the given text: `RecordingI2CBus`'s counterpart for the kernel's w1 files.
///
/// An unexpected read throws `BusError.io` and is kept; `finish()` returns what went wrong,
/// leftover expectations included, so a test asserts `bus.finish() == []`.
public final class RecordingOneWire: OneWireBus {
    /// One read of a slave's file, answered with `text`.
    public struct FileRead: Sendable, Hashable {
        public var slave: String
        public var file: String
        public var text: String
        public init(slave: String, file: String, text: String) {
            (self.slave, self.file, self.text) = (slave, file, text)
        }
    }

    private let state: Mutex<(expected: [FileRead], next: Int, problems: [String])>
    private let slaveIDs: [String]

    public init(slaves: [String], expecting reads: [FileRead]) {
        slaveIDs = slaves
        state = Mutex((reads, 0, []))
    }

    public func finish() -> [String] {
        state.withLock { state in
            state.problems + state.expected[state.next...].map { "expected a read of \($0.slave)/\($0.file), but the driver made no more" }
        }
    }

    public func slaves() async throws -> [String] { slaveIDs }

    public func read(slave: String, file: String) async throws -> String {
        let outcome: Result<String, BusError> = state.withLock { state in
            let index = state.next
            guard index < state.expected.count, state.expected[index].slave == slave, state.expected[index].file == file else {
                let wanted = index < state.expected.count ? "\(state.expected[index].slave)/\(state.expected[index].file)" : "none"
                let problem = "read \(index + 1): the driver read \(slave)/\(file), expected \(wanted)"
                state.problems.append(problem)
                return .failure(.io("recording bus: \(problem)", errno: 0))
            }
            state.next += 1
            return .success(state.expected[index].text)
        }
        return try outcome.get()
    }
}
