import HAL
import Synchronization

/// One I2C transaction as it crosses the wire: the address, the bytes written, and the bytes
/// the device answers.
public enum I2CTransaction: Sendable, Hashable, CustomStringConvertible {
    /// A plain write (start, address+W, bytes, stop).
    case write(UInt8, [UInt8])
    /// A plain read that the device answers with these bytes.
    case read(UInt8, [UInt8])
    /// A write joined to a read by a repeated start (a register read), answered with these bytes.
    case writeRead(UInt8, [UInt8], reply: [UInt8])

    public var description: String {
        switch self {
        case .write(let address, let bytes): "write \(Self.hex(bytes)) to \(Self.hex([address]))"
        case .read(let address, let reply): "read \(reply.count) from \(Self.hex([address])) → \(Self.hex(reply))"
        case .writeRead(let address, let bytes, let reply):
            "write \(Self.hex(bytes)) then read \(reply.count) at \(Self.hex([address])) → \(Self.hex(reply))"
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        "[" + bytes.map { ($0 < 16 ? "0x0" : "0x") + String($0, radix: 16) }.joined(separator: " ") + "]"
    }
}

/// An I2C bus that is given the exact transactions a driver must make, in order, and answers
/// them: the bytes on the wire asserted, the way embedded-hal-mock's I2C mock does in Rust.
///
/// A transaction that is not the next expected one is not answered: it throws
/// `BusError.io` (so the driver sees a failed bus) and is kept in `problems`. `finish()`
/// adds every expectation left unmet. A test asserts `bus.finish() == []`, which reads as the
/// list of what went wrong when it fails. Simulations (HALSimulation) say whether a driver
/// gets the chip's physics right; this says which bytes it sends.
public final class RecordingI2CBus: I2CBus {
    private struct State {
        var expected: [I2CTransaction]
        var next = 0
        var problems: [String] = []
        var seen: [I2CTransaction] = []
    }

    private let state: Mutex<State>

    public init(expecting transactions: [I2CTransaction]) {
        state = Mutex(State(expected: transactions))
    }

    /// Every transaction the driver made, answered or not, in order.
    public var transactions: [I2CTransaction] { state.withLock { $0.seen } }

    /// Everything that went wrong: unexpected transactions, then the expectations never met.
    public func finish() -> [String] {
        state.withLock { state in
            state.problems + state.expected[state.next...].map { "expected \($0), but the driver made no more transactions" }
        }
    }

    public func write(_ bytes: [UInt8], to address: UInt8) throws {
        _ = try answer(.write(address, bytes)) { $0 == .write(address, bytes) ? [] : nil }
    }

    public func read(count: Int, from address: UInt8) throws -> [UInt8] {
        try answer(.read(address, Array(repeating: 0, count: count))) { expected in
            guard case .read(let expectedAddress, let reply) = expected, expectedAddress == address, reply.count == count else { return nil }
            return reply
        }
    }

    public func writeRead(_ bytes: [UInt8], readCount: Int, at address: UInt8) throws -> [UInt8] {
        try answer(.writeRead(address, bytes, reply: Array(repeating: 0, count: readCount))) { expected in
            guard case .writeRead(let expectedAddress, let written, let reply) = expected,
                  expectedAddress == address, written == bytes, reply.count == readCount else { return nil }
            return reply
        }
    }

    /// Matches `made` against the next expectation; `reply` returns the answer when the
    /// expectation fits, nil when it does not.
    private func answer(_ made: I2CTransaction, reply: (I2CTransaction) -> [UInt8]?) throws -> [UInt8] {
        let outcome: Result<[UInt8], BusError> = state.withLock { state in
            let index = state.next
            let expected = index < state.expected.count ? state.expected[index] : nil
            guard let expected, let answer = reply(expected) else {
                state.seen.append(made)
                let problem = "transaction \(index + 1): the driver made \(Self.shape(made)), expected "
                    + (expected.map(\.description) ?? "none")
                state.problems.append(problem)
                return .failure(.io("recording bus: \(problem)", errno: 0))
            }
            state.seen.append(expected)
            state.next += 1
            return .success(answer)
        }
        return try outcome.get()
    }

    /// What the driver asked for, without the reply it never got.
    private static func shape(_ made: I2CTransaction) -> String {
        switch made {
        case .write: made.description
        case .read(let address, let reply): "read \(reply.count) from \(I2CTransaction.hex([address]))"
        case .writeRead(let address, let bytes, let reply):
            "write \(I2CTransaction.hex(bytes)) then read \(reply.count) at \(I2CTransaction.hex([address]))"
        }
    }
}
