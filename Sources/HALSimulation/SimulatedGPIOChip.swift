import EdgeCore
import HAL
import Synchronization

/// A GPIO chip whose input levels are set by tests or follow scenarios, and whose output
/// states tests can read. Edges carry the clock's monotonic time as the kernel's stamp.
public final class SimulatedGPIOChip: GPIOChip {
    /// What drives a line's physical level.
    public enum Drive: Sendable {
        /// Set by `setLevel`.
        case manual
        /// High while the scenario's value is ≥ 0.5 (1 = high, 0 = low).
        case level(Scenario)
        /// A square wave at the scenario's frequency in Hz (a flow meter's pulses).
        case pulses(Scenario)
    }

    fileprivate struct Line {
        var level = false
        var drive: ScenarioDrive = .manual
        var edges: [GPIOEdge] = []
        var dropped = 0
        /// Pulse phase in cycles, and when it was last advanced.
        var phase = 0.0
        var phaseTime: UInt64 = 0
        var output: Bool?
        var requested: (bias: GPIOBias, activeLow: Bool)?
    }

    fileprivate enum ScenarioDrive {
        case manual
        case level(ScenarioClock)
        case pulses(ScenarioClock)
    }

    /// The kernel queues 16 events per line; the Linux backend's reader thread drains them
    /// into a queue of this size.
    public static let edgeQueueLimit = 1024
    public let lineNames: [String]
    private let clock: any DeviceClock
    private let lines: Mutex<[UInt32: Line]>

    public init(lineNames: [String] = [], clock: any DeviceClock) {
        self.lineNames = lineNames
        self.clock = clock
        self.lines = Mutex([:])
    }

    public func drive(offset: UInt32, _ drive: Drive) {
        let now = clock.now().bootNanos
        lines.withLock {
            var line = $0[offset] ?? Line()
            switch drive {
            case .manual: line.drive = .manual
            case .level(let s): line.drive = .level(ScenarioClock(s, clock: clock))
            case .pulses(let s): line.drive = .pulses(ScenarioClock(s, clock: clock))
            }
            line.phaseTime = now
            $0[offset] = line
        }
    }

    /// Sets a manually driven line's physical level, recording an edge if it changed.
    public func setLevel(_ high: Bool, offset: UInt32) {
        let now = clock.now().bootNanos
        lines.withLock {
            var line = $0[offset] ?? Line()
            if line.level != high { line.record(high: high, at: now) }
            line.level = high
            $0[offset] = line
        }
    }

    /// An output line's logical state, nil if never requested.
    public func outputState(offset: UInt32) -> Bool? { lines.withLock { $0[offset]?.output } }

    /// How an input line was requested (bias, active-low), nil if never requested.
    public func request(offset: UInt32) -> (bias: GPIOBias, activeLow: Bool)? { lines.withLock { $0[offset]?.requested } }

    public func input(_ id: GPIOLineID, bias: GPIOBias, activeLow: Bool) throws -> any GPIOInputLine {
        let offset = try resolve(id)
        lines.withLock {
            var line = $0[offset] ?? Line()
            line.requested = (bias, activeLow)
            $0[offset] = line
        }
        return InputLine(chip: self, offset: offset, activeLow: activeLow)
    }

    public func output(_ id: GPIOLineID, initial: Bool, activeLow: Bool) throws -> any GPIOOutputLine {
        let offset = try resolve(id)
        lines.withLock { $0[offset, default: Line()].output = initial }
        return OutputLine(chip: self, offset: offset)
    }

    private func resolve(_ id: GPIOLineID) throws -> UInt32 {
        switch id {
        case .offset(let offset): return offset
        case .name(let name):
            guard let index = lineNames.firstIndex(of: name) else {
                throw BusError.noDevice("no GPIO line named '\(name)' on the simulated chip (lines: \(lineNames.joined(separator: ", ")))")
            }
            return UInt32(index)
        }
    }

    fileprivate func physical(offset: UInt32) -> (level: Bool, edges: [GPIOEdge], dropped: Int) {
        let now = clock.now().bootNanos
        return lines.withLock {
            var line = $0[offset] ?? Line()
            line.advance(to: now)
            let result = (line.level, line.edges, line.dropped)
            line.edges = []
            line.dropped = 0
            $0[offset] = line
            return result
        }
    }

    fileprivate func setOutput(_ active: Bool, offset: UInt32) {
        lines.withLock { $0[offset, default: Line()].output = active }
    }

    private struct InputLine: GPIOInputLine {
        let chip: SimulatedGPIOChip
        let offset: UInt32
        let activeLow: Bool

        func level() throws -> Bool {
            // Reading the level does not consume edges in the kernel; keep them queued.
            let now = chip.clock.now().bootNanos
            return chip.lines.withLock {
                var line = $0[offset] ?? Line()
                line.advance(to: now)
                $0[offset] = line
                return line.level != activeLow
            }
        }

        func drainEdges() throws -> (edges: [GPIOEdge], dropped: Int) {
            let (_, edges, dropped) = chip.physical(offset: offset)
            return (edges.map { GPIOEdge(rising: $0.rising != activeLow, timestampNanos: $0.timestampNanos) }, dropped)
        }
    }

    private struct OutputLine: GPIOOutputLine {
        let chip: SimulatedGPIOChip
        let offset: UInt32
        func set(_ active: Bool) throws { chip.setOutput(active, offset: offset) }
    }
}

extension SimulatedGPIOChip.Line {
    /// The most edges per second a line can be driven at: far beyond any queue, so a faster
    /// scenario loses edges (counted) as a real line would, and nothing overflows.
    static let maxHertz = 1e9

    fileprivate mutating func record(high: Bool, at nanos: UInt64) {
        if edges.count < SimulatedGPIOChip.edgeQueueLimit {
            edges.append(GPIOEdge(rising: high, timestampNanos: nanos))
        } else {
            dropped = dropped == .max ? .max : dropped + 1
        }
    }

    /// `count` level changes at one instant: those that fit the queue are queued, the rest
    /// counted as dropped; the level ends where that many toggles leave it.
    fileprivate mutating func toggle(_ count: Int, at nanos: UInt64) {
        let count = max(0, count)
        let queued = min(count, max(0, SimulatedGPIOChip.edgeQueueLimit - edges.count))
        for _ in 0..<queued {
            level.toggle()
            record(high: level, at: nanos)
        }
        let rest = count - queued
        let (sum, overflow) = dropped.addingReportingOverflow(rest)
        dropped = overflow ? .max : sum
        if rest % 2 == 1 { level.toggle() }
    }

    /// Brings a scenario-driven line up to `now`: a level follows its scenario; a pulse
    /// train integrates its frequency, one rising and one falling edge per cycle. Both step
    /// 1 ms at a time, coarser across a long gap between looks so that one look costs at
    /// most about 65 000 evaluations whatever the clock did.
    fileprivate mutating func advance(to now: UInt64) {
        let gap = now > phaseTime ? now - phaseTime : 0
        let stride = max(1_000_000, gap / 65_536)
        switch drive {
        case .manual:
            return
        case .level(let scenario):
            // Every crossing since the last look becomes an edge, so a chattering switch
            // queues edges as the kernel would even between reads. A constant level cannot
            // cross: one look is enough.
            let start = scenario.start.bootNanos
            var time = scenario.scenario.isConstant || gap == 0 ? now : phaseTime + min(stride, gap)
            while true {
                let high = scenario.scenario.value(at: .nanoseconds(Int64(clamping: time > start ? time - start : 0))) >= 0.5
                if high != level { record(high: high, at: time) }
                level = high
                guard time < now else { break }
                time += min(stride, now - time)
            }
            phaseTime = max(phaseTime, now)
        case .pulses(let scenario):
            let start = scenario.start.bootNanos
            while phaseTime < now {
                let step = min(stride, now - phaseTime)
                let value = scenario.scenario.value(at: .nanoseconds(Int64(clamping: phaseTime > start ? phaseTime - start : 0)))
                let hz = value.isNaN ? 0 : min(max(0, value), Self.maxHertz)
                let next = phase + hz * Double(step) / 1e9
                phaseTime += step
                // Low for the first half of each cycle, high for the second: one rising edge per cycle.
                toggle(((next * 2).rounded(.down) - (phase * 2).rounded(.down)).saturatingInteger(Int.self), at: phaseTime)
                phase = next
            }
        }
    }
}
