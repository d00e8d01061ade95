#if os(Linux)
import CGPIOD
import Foundation
import Glibc
import Synchronization

/// A GPIO chip through libgpiod 1.6 (Debian 12 / Raspberry Pi OS bookworm; 2.x is a different API).
///
/// Find lines by name: on a Pi 5 the header chip's number changed between kernels.
public final class LinuxGPIOChip: GPIOChip, @unchecked Sendable {
    // @unchecked: the chip pointer is only used under `lock`; libgpiod objects are not thread-safe.
    private let chip: OpaquePointer
    private let lock = Mutex(())
    public let name: String
    static let consumer = "reef-edge"

    /// Opens a chip by name, path, label or number (`gpiod_chip_open_lookup`), e.g. `gpiochip0`
    /// or `pinctrl-rp1`.
    public init(_ name: String) throws {
        self.name = name
        guard let chip = gpiod_chip_open_lookup(name) else {
            throw BusError.opening("GPIO chip \(name)", errno: errno, group: "gpio",
                enableHint: "list chips with gpiodetect and use one of those names")
        }
        self.chip = chip
    }

    deinit { gpiod_chip_close(chip) }

    public func input(_ id: GPIOLineID, bias: GPIOBias, activeLow: Bool) throws -> any GPIOInputLine {
        let line = try lock.withLock { _ in try find(id) }
        var flags: Int32 = 0
        switch bias {
        case .asIs: break
        case .disabled: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE)
        case .pullUp: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP)
        case .pullDown: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN)
        }
        if activeLow { flags |= Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) }
        guard gpiod_line_request_both_edges_events_flags(line, Self.consumer, flags) == 0 else {
            throw requestError(id, errno: errno)
        }
        return EdgeReader(line: line, chip: self)
    }

    public func output(_ id: GPIOLineID, initial: Bool, activeLow: Bool) throws -> any GPIOOutputLine {
        let line = try lock.withLock { _ in try find(id) }
        let flags = activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
        guard gpiod_line_request_output_flags(line, Self.consumer, flags, initial ? 1 : 0) == 0 else {
            throw requestError(id, errno: errno)
        }
        return Output(line: line, chip: self)
    }

    private func find(_ id: GPIOLineID) throws -> OpaquePointer {
        let line: OpaquePointer? = switch id {
        case .name(let name): gpiod_chip_find_line(chip, name)
        case .offset(let offset): gpiod_chip_get_line(chip, offset)
        }
        guard let line else { throw BusError.noDevice("GPIO line \(id) on \(name): list lines with gpioinfo \(name)") }
        return line
    }

    private func requestError(_ id: GPIOLineID, errno code: Int32) -> BusError {
        switch code {
        case EBUSY: .io("GPIO line \(id) on \(name) is in use by another consumer (see gpioinfo)", errno: code)
        case EINVAL: .io("GPIO line \(id) on \(name): bias flags need kernel ≥ 5.5", errno: code)
        default: BusError.opening("GPIO line \(id) on \(name)", errno: code, group: "gpio", enableHint: "check gpioinfo \(name)")
        }
    }

    /// Edges the reader thread queued, bounded; `stop` ends the thread, which then releases the line.
    private final class EdgeQueue: Sendable {
        let state = Mutex<(edges: [GPIOEdge], dropped: Int, stop: Bool)>(([], 0, false))
        static let limit = 1024
    }

    /// Drains the line's kernel event queue (16 events) on a dedicated thread into a bounded
    /// queue, so fast pulses are not lost between polls and no cooperative thread waits.
    private final class EdgeReader: GPIOInputLine, @unchecked Sendable {
        // @unchecked: `line` is read by callers for values and by the reader thread for
        // events; libgpiod 1.6 keeps both on the line's one request fd.
        let line: OpaquePointer
        let chip: LinuxGPIOChip
        let queue = EdgeQueue()

        init(line: OpaquePointer, chip: LinuxGPIOChip) {
            self.line = line
            self.chip = chip
            let thread = Thread { [queue, line = UncheckedLine(pointer: line)] in Self.run(line.pointer, queue) }
            thread.stackSize = 128 * 1024
            thread.start()
        }

        deinit { queue.state.withLock { $0.stop = true } }

        private static func run(_ line: OpaquePointer, _ queue: EdgeQueue) {
            var timeout = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            while !queue.state.withLock({ $0.stop }) {
                guard gpiod_line_event_wait(line, &timeout) == 1 else { continue }
                var event = gpiod_line_event()
                guard gpiod_line_event_read(line, &event) == 0 else { continue }
                let edge = GPIOEdge(
                    rising: event.event_type == Int32(GPIOD_LINE_EVENT_RISING_EDGE),
                    timestampNanos: UInt64(event.ts.tv_sec) * 1_000_000_000 + UInt64(event.ts.tv_nsec))
                queue.state.withLock {
                    if $0.edges.count < EdgeQueue.limit { $0.edges.append(edge) } else { $0.dropped += 1 }
                }
            }
            gpiod_line_release(line)
        }

        func level() throws -> Bool {
            let value = gpiod_line_get_value(line)
            guard value >= 0 else { throw BusError.io("reading GPIO line on \(chip.name)", errno: errno) }
            return value == 1
        }

        func drainEdges() throws -> (edges: [GPIOEdge], dropped: Int) {
            queue.state.withLock { state in
                defer { state.edges = []; state.dropped = 0 }
                return (state.edges, state.dropped)
            }
        }
    }

    private struct UncheckedLine: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private struct Output: GPIOOutputLine, @unchecked Sendable {
        let line: OpaquePointer
        let chip: LinuxGPIOChip
        func set(_ active: Bool) throws {
            guard gpiod_line_set_value(line, active ? 1 : 0) == 0 else {
                throw BusError.io("setting GPIO line on \(chip.name)", errno: errno)
            }
        }
    }
}
#endif
