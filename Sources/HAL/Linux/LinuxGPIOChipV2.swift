#if os(Linux) && GPIOD_V2
import CGPIOD
import Foundation
import Glibc
import Synchronization

/// A GPIO chip through libgpiod 2.x (Debian 13 / Raspberry Pi OS trixie and later), behaving as
/// the 1.6 backend (LinuxGPIOChip.swift) does: the same chip and line names, bias, active-low,
/// both edges with the kernel's CLOCK_MONOTONIC timestamps, outputs at their initial level.
/// Package.swift compiles this one when the libgpiod it finds is 2.x.
public final class LinuxGPIOChip: GPIOChip, @unchecked Sendable {
    // @unchecked: the chip pointer is only used under `lock`; libgpiod objects are not thread-safe.
    private let chip: OpaquePointer
    private let lock = Mutex(())
    public let name: String

    /// Opens a chip by path, name, number or label, e.g. `gpiochip0`, `0` or `pinctrl-rp1`:
    /// what 1.6's `gpiod_chip_open_lookup` accepted (2.x opens only paths).
    public init(_ name: String) throws {
        self.name = name
        guard let chip = Self.open(name) else { throw GPIORequestError.noChip(name, errno: errno) }
        self.chip = chip
    }

    deinit { gpiod_chip_close(chip) }

    private static func open(_ name: String) -> OpaquePointer? {
        if name.contains("/") { return gpiod_chip_open(name) }
        if !name.isEmpty, name.allSatisfy(\.isASCII), name.allSatisfy(\.isNumber) { return gpiod_chip_open("/dev/gpiochip\(name)") }
        if let chip = gpiod_chip_open("/dev/\(name)") { return chip }
        if errno != ENOENT { return nil }
        let chips = ((try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? []).filter { $0.hasPrefix("gpiochip") }
        for path in chips.sorted() {
            guard let chip = gpiod_chip_open("/dev/\(path)") else { continue }
            if let info = gpiod_chip_get_info(chip) {
                let label = String(cString: gpiod_chip_info_get_label(info))
                gpiod_chip_info_free(info)
                if label == name { return chip }
            }
            gpiod_chip_close(chip)
        }
        errno = ENOENT
        return nil
    }

    public func input(_ id: GPIOLineID, bias: GPIOBias, activeLow: Bool) throws -> any GPIOInputLine {
        let biasSetting: gpiod_line_bias = switch bias {
        case .asIs: GPIOD_LINE_BIAS_AS_IS
        case .disabled: GPIOD_LINE_BIAS_DISABLED
        case .pullUp: GPIOD_LINE_BIAS_PULL_UP
        case .pullDown: GPIOD_LINE_BIAS_PULL_DOWN
        }
        let (request, offset) = try request(id) { settings in
            gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_INPUT)
            gpiod_line_settings_set_edge_detection(settings, GPIOD_LINE_EDGE_BOTH)
            gpiod_line_settings_set_event_clock(settings, GPIOD_LINE_CLOCK_MONOTONIC)
            gpiod_line_settings_set_active_low(settings, activeLow)
            gpiod_line_settings_set_bias(settings, biasSetting)
        }
        return EdgeReader(request: request, offset: offset, chip: name)
    }

    public func output(_ id: GPIOLineID, initial: Bool, activeLow: Bool) throws -> any GPIOOutputLine {
        let (request, offset) = try request(id) { settings in
            gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_OUTPUT)
            gpiod_line_settings_set_active_low(settings, activeLow)
            gpiod_line_settings_set_output_value(settings, initial ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE)
        }
        return Output(request: request, offset: offset, chip: name)
    }

    /// Requests one line with the settings `configure` sets: 2.x's settings → line config →
    /// request config → request, each freed once the request exists.
    private func request(_ id: GPIOLineID, _ configure: (OpaquePointer) -> Void) throws -> (OpaquePointer, UInt32) {
        try lock.withLock { _ in
            let offset = try offset(of: id)
            guard let settings = gpiod_line_settings_new() else { throw BusError.io("GPIO settings for \(id) on \(name)", errno: ENOMEM) }
            defer { gpiod_line_settings_free(settings) }
            configure(settings)
            guard let lines = gpiod_line_config_new() else { throw BusError.io("GPIO settings for \(id) on \(name)", errno: ENOMEM) }
            defer { gpiod_line_config_free(lines) }
            var offsets = [offset]
            guard gpiod_line_config_add_line_settings(lines, &offsets, 1, settings) == 0 else {
                throw GPIORequestError.make(id, chip: name, errno: errno)
            }
            guard let config = gpiod_request_config_new() else { throw BusError.io("GPIO settings for \(id) on \(name)", errno: ENOMEM) }
            defer { gpiod_request_config_free(config) }
            gpiod_request_config_set_consumer(config, GPIORequestError.consumer)
            guard let request = gpiod_chip_request_lines(chip, config, lines) else {
                throw GPIORequestError.make(id, chip: name, errno: errno)
            }
            return (request, offset)
        }
    }

    /// A name or an offset the chip has; anything else is "no such line", as with 1.6.
    private func offset(of id: GPIOLineID) throws -> UInt32 {
        switch id {
        case .name(let line):
            let offset = gpiod_chip_get_line_offset_from_name(chip, line)
            guard offset >= 0 else { throw GPIORequestError.noLine(id, chip: name) }
            return UInt32(offset)
        case .offset(let offset):
            guard let info = gpiod_chip_get_info(chip) else { throw GPIORequestError.noChip(name, errno: errno) }
            defer { gpiod_chip_info_free(info) }
            guard Int(offset) < Int(gpiod_chip_info_get_num_lines(info)) else { throw GPIORequestError.noLine(id, chip: name) }
            return offset
        }
    }

    /// Drains the request's kernel event queue on a dedicated thread into a bounded queue, as
    /// the 1.6 backend does, so fast pulses are not lost between polls and no cooperative
    /// thread waits. The thread releases the request when the reader goes away. Like the 1.6
    /// backend's, it is a long-lived kernel wait, not a blocking call: see `BlockingIO`'s doc.
    private final class EdgeReader: GPIOInputLine, @unchecked Sendable {
        // @unchecked: `request` is read by callers for values and by the reader thread for
        // events; both go through the request's one file descriptor.
        let request: OpaquePointer
        let offset: UInt32
        let chip: String
        let queue = GPIOEdgeQueue()

        init(request: OpaquePointer, offset: UInt32, chip: String) {
            self.request = request
            self.offset = offset
            self.chip = chip
            let thread = Thread { [queue, request = UncheckedRequest(pointer: request)] in Self.run(request.pointer, queue) }
            thread.stackSize = 128 * 1024
            thread.start()
        }

        deinit { queue.stop() }

        private static func run(_ request: OpaquePointer, _ queue: GPIOEdgeQueue) {
            defer { gpiod_line_request_release(request) }
            // The kernel's own queue holds 16 events per line by default; read them all at once.
            guard let buffer = gpiod_edge_event_buffer_new(16) else { return }
            defer { gpiod_edge_event_buffer_free(buffer) }
            while !queue.stopped {
                guard gpiod_line_request_wait_edge_events(request, 100_000_000) == 1 else { continue }
                let count = gpiod_line_request_read_edge_events(request, buffer, 16)
                guard count > 0 else { continue }
                for index in 0..<UInt(count) {
                    guard let event = gpiod_edge_event_buffer_get_event(buffer, index) else { continue }
                    queue.append(GPIOEdge(
                        rising: gpiod_edge_event_get_event_type(event) == GPIOD_EDGE_EVENT_RISING_EDGE,
                        timestampNanos: gpiod_edge_event_get_timestamp_ns(event)))
                }
            }
        }

        func level() throws -> Bool {
            let value = gpiod_line_request_get_value(request, offset)
            guard value != GPIOD_LINE_VALUE_ERROR else { throw BusError.io("reading GPIO line on \(chip)", errno: errno) }
            return value == GPIOD_LINE_VALUE_ACTIVE
        }

        func drainEdges() throws -> (edges: [GPIOEdge], dropped: Int) {
            queue.drain()
        }
    }

    private struct UncheckedRequest: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// An output request, released when the last reference goes (2.x requests outlive the chip;
    /// the kernel keeps the line's last level after release).
    private final class Output: GPIOOutputLine, @unchecked Sendable {
        // @unchecked: one request, set from one owner at a time (the board's output driver).
        let request: OpaquePointer
        let offset: UInt32
        let chip: String

        init(request: OpaquePointer, offset: UInt32, chip: String) {
            self.request = request
            self.offset = offset
            self.chip = chip
        }

        deinit { gpiod_line_request_release(request) }

        func set(_ active: Bool) throws {
            guard gpiod_line_request_set_value(request, offset, active ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE) == 0 else {
                throw BusError.io("setting GPIO line on \(chip)", errno: errno)
            }
        }
    }
}
#endif
