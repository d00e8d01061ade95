/// Which line on a GPIO chip. Prefer names: on a Pi 5 the header chip's number changed
/// between kernels, its line names did not.
public enum GPIOLineID: Sendable, Hashable, CustomStringConvertible {
    case name(String)
    case offset(UInt32)

    public var description: String {
        switch self {
        case .name(let name): name
        case .offset(let offset): "offset \(offset)"
        }
    }
}

/// The internal resistor to request on an input line (kernel ≥ 5.5).
public enum GPIOBias: Sendable, Hashable {
    case asIs, disabled, pullUp, pullDown
}

/// One edge as the kernel stamped it (CLOCK_MONOTONIC nanoseconds).
public struct GPIOEdge: Sendable, Hashable {
    /// True for a change to the active level.
    public var rising: Bool
    public var timestampNanos: UInt64
    public init(rising: Bool, timestampNanos: UInt64) {
        self.rising = rising
        self.timestampNanos = timestampNanos
    }
}

/// An input line as requested: bias and active-low are already applied by the backend.
public protocol GPIOInputLine: Sendable {
    /// The logical level (true = active).
    func level() throws -> Bool
    /// Every edge seen since the previous call, oldest first, and how many were lost
    /// because they arrived faster than the backend could queue them. Never waits.
    func drainEdges() throws -> (edges: [GPIOEdge], dropped: Int)
}

/// An output line as requested.
public protocol GPIOOutputLine: Sendable {
    func set(_ active: Bool) throws
}

/// A GPIO chip that hands out requested lines.
public protocol GPIOChip: Sendable {
    func input(_ line: GPIOLineID, bias: GPIOBias, activeLow: Bool) throws -> any GPIOInputLine
    func output(_ line: GPIOLineID, initial: Bool, activeLow: Bool) throws -> any GPIOOutputLine
}
