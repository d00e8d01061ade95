#if os(Linux) && !GPIOD_V2
import CGPIOD
import Foundation
import Glibc
import Synchronization

/// A GPIO chip through libgpiod 1.6 (Debian 12 / Raspberry Pi OS bookworm). Package.swift
/// compiles this backend or the 2.x one (LinuxGPIOChipV2.swift), whichever libgpiod it finds.
///
/// Find lines by name: on a Pi 5 the header chip's number changed between kernels.
public final class LinuxGPIOChip: GPIOChip, @unchecked Sendable {
    // @unchecked: the chip pointer is only used under `lock`; libgpiod objects are not thread-safe.
    private let chip: OpaquePointer
    private let lock = Mutex(())
    public let name: String

    /// Opens a chip by name, path, label or number (`gpiod_chip_open_lookup`), e.g. `gpiochip0`
    /// or `pinctrl-rp1`.
    public init(_ name: String) throws {
        self.name = name
        guard let chip = gpiod_chip_open_lookup(name) else {
            throw GPIORequestError.noChip(name, errno: errno)
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
        guard gpiod_line_request_both_edges_events_flags(line, GPIORequestError.consumer, flags) == 0 else {
            throw GPIORequestError.make(id, chip: name, errno: errno)
        }
        return EdgeReader(line: line, chip: self)
    }

    public func output(_ id: GPIOLineID, initial: Bool, activeLow: Bool) throws -> any GPIOOutputLine {
        let line = try lock.withLock { _ in try find(id) }
        let flags = activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
        guard gpiod_line_request_output_flags(line, GPIORequestError.consumer, flags, initial ? 1 : 0) == 0 else {
            throw GPIORequestError.make(id, chip: name, errno: errno)
        }
        return Output(line: line, chip: self)
    }

    private func find(_ id: GPIOLineID) throws -> OpaquePointer {
        let line: OpaquePointer? = switch id {
        case .name(let name): gpiod_chip_find_line(chip, name)
        case .offset(let offset): gpiod_chip_get_line(chip, offset)
        }
        guard let line else { throw GPIORequestError.noLine(id, chip: name) }
        return line
    }

    /// Drains the line's kernel event queue (16 events) on a dedicated thread into a bounded
    /// queue, so fast pulses are not lost between polls and no cooperative thread waits.
    /// The thread is the line's for as long as it is requested: a kernel wait that lasts the
    /// agent's life, not a blocking call, so it does not go through `BlockingIO` (whose doc
    /// says why the two differ).
    private final class EdgeReader: GPIOInputLine, @unchecked Sendable {
        // @unchecked: `line` is read by callers for values and by the reader thread for
        // events; libgpiod 1.6 keeps both on the line's one request fd.
        let line: OpaquePointer
        let chip: LinuxGPIOChip
        let queue = GPIOEdgeQueue()

        init(line: OpaquePointer, chip: LinuxGPIOChip) {
            self.line = line
            self.chip = chip
            let thread = Thread { [queue, line = UncheckedLine(pointer: line)] in Self.run(line.pointer, queue) }
            thread.stackSize = 128 * 1024
            thread.start()
        }

        deinit { queue.stop() }

        private static func run(_ line: OpaquePointer, _ queue: GPIOEdgeQueue) {
            var timeout = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            while !queue.stopped {
                guard gpiod_line_event_wait(line, &timeout) == 1 else { continue }
                var event = gpiod_line_event()
                guard gpiod_line_event_read(line, &event) == 0 else { continue }
                queue.append(GPIOEdge(
                    rising: event.event_type == Int32(GPIOD_LINE_EVENT_RISING_EDGE),
                    timestampNanos: UInt64(event.ts.tv_sec) * 1_000_000_000 + UInt64(event.ts.tv_nsec)))
            }
            gpiod_line_release(line)
        }

        func level() throws -> Bool {
            let value = gpiod_line_get_value(line)
            guard value >= 0 else { throw BusError.io("reading GPIO line on \(chip.name)", errno: errno) }
            return value == 1
        }

        func drainEdges() throws -> (edges: [GPIOEdge], dropped: Int) {
            queue.drain()
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
