#if os(Linux)
import Glibc
import Synchronization

/// What both libgpiod backends (1.6 and 2.x, LinuxGPIOChip*.swift) share: the bounded queue
/// their reader threads fill, and the same errors for the same failures.
///
/// Edges the reader thread queued, bounded; `stop` ends the thread, which then releases the line.
final class GPIOEdgeQueue: Sendable {
    private let state = Mutex<(edges: [GPIOEdge], dropped: Int, stop: Bool)>(([], 0, false))
    static let limit = 1024

    var stopped: Bool { state.withLock { $0.stop } }
    func stop() { state.withLock { $0.stop = true } }

    func append(_ edge: GPIOEdge) {
        state.withLock {
            if $0.edges.count < Self.limit { $0.edges.append(edge) } else { $0.dropped += 1 }
        }
    }

    func drain() -> (edges: [GPIOEdge], dropped: Int) {
        state.withLock { state in
            defer { state.edges = []; state.dropped = 0 }
            return (state.edges, state.dropped)
        }
    }
}

enum GPIORequestError {
    static let consumer = "reef-edge"

    static func make(_ id: GPIOLineID, chip: String, errno code: Int32) -> BusError {
        switch code {
        case EBUSY: .io("GPIO line \(id) on \(chip) is in use by another consumer (see gpioinfo)", errno: code)
        case EINVAL: .io("GPIO line \(id) on \(chip): bias flags need kernel ≥ 5.5", errno: code)
        default: BusError.opening("GPIO line \(id) on \(chip)", errno: code, group: "gpio", enableHint: "check gpioinfo \(chip)")
        }
    }

    static func noLine(_ id: GPIOLineID, chip: String) -> BusError {
        BusError.noDevice("GPIO line \(id) on \(chip): list lines with gpioinfo \(chip)")
    }

    static func noChip(_ chip: String, errno code: Int32) -> BusError {
        BusError.opening("GPIO chip \(chip)", errno: code, group: "gpio",
            enableHint: "list chips with gpiodetect and use one of those names")
    }
}
#endif
