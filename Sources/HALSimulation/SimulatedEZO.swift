import EdgeCore
import Foundation
import HAL
import Synchronization

/// An Atlas Scientific EZO circuit's I2C command/response state machine.
///
/// A command's reply reads 254 until the command's delay has passed on the clock, then
/// 1 + ASCII + NUL padding (or 2 for a command the circuit does not know); after that,
/// and before any command, a read gets 255. `Sleep` produces no reply; the next command wakes it.
/// The scenario gives the measured quantity: pH, mV, µS/cm, mg/L or °C.
public final class SimulatedEZO: SimulatedI2CDevice {
    private struct State {
        var reply: (ready: UInt64, bytes: [UInt8])?
        var asleep = false
        var temperatureCompensation = 25.0
        var calibrationPoints = 0
        /// Replies "processing" forever: a hung circuit.
        var stuckProcessing = false
    }

    public let kind: EZOKind
    private let scenario: ScenarioClock
    private let state = Mutex(State())

    public init(kind: EZOKind, scenario: Scenario, clock: any DeviceClock) {
        self.kind = kind
        self.scenario = ScenarioClock(scenario, clock: clock)
    }

    public var isAnswering: Bool { !scenario.droppedOut }

    /// Fault injection: the circuit hangs in "still processing".
    public func setStuckProcessing(_ stuck: Bool) { state.withLock { $0.stuckProcessing = stuck } }

    public var calibrationPoints: Int { state.withLock { $0.calibrationPoints } }
    public var temperatureCompensation: Double { state.withLock { $0.temperatureCompensation } }
    public var isAsleep: Bool { state.withLock { $0.asleep } }

    public func receive(_ bytes: [UInt8]) throws {
        let command = String(decoding: bytes, as: UTF8.self)
        let now = scenario.clock.now().bootNanos
        let ready = now + UInt64(max(0, kind.delay(for: command).saturatingNanos))
        state.withLock { s in
            s.asleep = false
            if command.lowercased() == "sleep" {
                s.asleep = true
                s.reply = nil
                return
            }
            let payload = respond(to: command, state: &s)
            s.reply = (ready, payload.map { [1] + Array($0.utf8) } ?? [2])
        }
    }

    public func transmit(count: Int) throws -> [UInt8] {
        let now = scenario.clock.now().bootNanos
        let bytes: [UInt8] = state.withLock { s in
            guard let reply = s.reply, !s.asleep else { return [255] }
            if s.stuckProcessing || now < reply.ready { return [254] }
            s.reply = nil
            return reply.bytes
        }
        return Array((bytes + [UInt8](repeating: 0, count: max(0, count - bytes.count))).prefix(count))
    }

    /// The payload for `command`, or nil for a syntax error.
    private func respond(to command: String, state s: inout State) -> String? {
        let parts = command.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
        switch parts.first {
        case "r" where parts.count == 1:
            return reading(scenario.value)
        case "t" where parts.count == 2 && kind != .orp && kind != .rtd:
            if parts[1] == "?" { return "?T," + String(format: "%.2f", s.temperatureCompensation) }
            guard let celsius = Double(parts[1]) else { return nil }
            s.temperatureCompensation = celsius
            return ""
        case "cal" where parts.count == 2 && parts[1] == "?":
            return "?CAL,\(s.calibrationPoints)"
        case "cal" where kind == .dissolvedOxygen && (parts.count == 1 || parts == ["cal", "0"]):
            // DO calibrates to atmosphere (`Cal`) and zero (`Cal,0`), not mid/low/high.
            s.calibrationPoints = min(2, s.calibrationPoints + 1)
            return ""
        case "cal" where parts.count == 2 && parts[1] == "clear":
            s.calibrationPoints = 0
            return ""
        case "cal" where parts.count == 3 && Double(parts[2]) != nil:
            switch parts[1] {
            case "mid": s.calibrationPoints = 1
            case "low", "high": s.calibrationPoints = min(3, s.calibrationPoints + 1)
            default: return nil
            }
            return ""
        case "i" where parts.count == 1:
            return "?i,\(["ph": "pH", "orp": "ORP", "ec": "EC", "dissolvedOxygen": "DO", "rtd": "RTD"][kind.rawValue]!),2.16"
        default:
            return nil
        }
    }

    private func reading(_ value: Double) -> String {
        switch kind {
        case .ph, .rtd: return String(format: "%.3f", value)
        case .orp: return String(format: "%.1f", value)
        case .dissolvedOxygen: return String(format: "%.2f", value)
        case .ec:
            let salinity = Self.practicalSalinity(microsiemens: value)
            // TDS with the circuit's default factor 0.54; SG from a linear seawater fit at 25 °C.
            return String(format: "%.1f,%.0f,%.2f,%.3f", value, value * 0.54, salinity, 1 + 0.000_753 * salinity)
        }
    }

    /// PSS-78 practical salinity at 25 °C (the circuit compensates conductivity to 25 °C).
    static func practicalSalinity(microsiemens: Double) -> Double {
        let r = microsiemens / 53_087 // C(35, 25 °C, 0) = 53.087 mS/cm
        let a = [0.0080, -0.1692, 25.3851, 14.0941, -7.0261, 2.7081]
        let b = [0.0005, -0.0056, -0.0066, -0.0375, 0.0636, -0.0144]
        let dt = 10.0
        var s = 0.0, ds = 0.0
        for i in 0..<6 {
            let term = pow(r, Double(i) / 2)
            s += a[i] * term
            ds += b[i] * term
        }
        return s + dt / (1 + 0.0162 * dt) * ds
    }
}
