import EdgeCore
import Foundation
import HAL
import Synchronization

/// An Atlas Scientific EZO circuit's I2C command/response state machine, from the EZO
/// datasheets (not from the driver's tables).
///
/// A command's reply reads 254 until the datasheet's processing delay for that command on
/// this circuit has passed on the clock, then 1 + ASCII + NUL padding (or 2 for a command the
/// circuit does not know); after that, and before any command, a read gets 255. `Sleep`
/// produces no reply; the next command wakes it. The scenario gives the measured quantity:
/// pH, mV, µS/cm, mg/L or °C. The EC circuit leaves the factory with only its EC output
/// enabled (firmware 2.10 and later); `O,TDS,1` and the like switch outputs on and off.
public final class SimulatedEZO: SimulatedI2CDevice {
    private struct State {
        var reply: (ready: UInt64, bytes: [UInt8])?
        var asleep = false
        var temperatureCompensation = 25.0
        var calibrationPoints = 0
        /// Replies "processing" forever: a hung circuit.
        var stuckProcessing = false
        /// The EC circuit's enabled outputs, in its reporting order.
        var outputs: Set<String> = ["EC"]
        /// Replies of 254 so far: a driver that waits the datasheet's time sees none.
        var busyReplies = 0
        /// The RTD circuit with no PT-1000 attached.
        var probeOpen = false
        /// How often each command was sent, for a replayed circuit.
        var sent: [String: Int] = [:]
        /// The liquid the probe is in now, when a test moved it out of the scenario's.
        var liquid: Double?
        /// Calibration points by name (`mid`, `low`, `high`, `dry`, `one`): the probe's raw
        /// value when the point was taken, and the value it was told.
        var points: [String: (raw: Double, value: Double)] = [:]
    }

    /// The EC circuit's outputs, in the order `O,?` and `R` report them.
    public static let ecOutputs = ["EC", "TDS", "S", "SG"]

    /// Processing delays from the datasheets, in ms: (read, calibration); anything else is 300.
    static func processingMillis(_ kind: EZOKind, verb: String) -> Int64 {
        let (read, calibration): (Int64, Int64) = switch kind {
        case .ph, .orp: (900, 900)
        case .ec, .rtd: (600, 600)
        case .dissolvedOxygen: (600, 1300)
        }
        switch verb {
        case "r", "rt": return read
        case "cal": return calibration
        default: return 300
        }
    }

    /// The name `i` reports for the circuit.
    static func deviceName(_ kind: EZOKind) -> String {
        switch kind {
        case .ph: "pH"
        case .orp: "ORP"
        case .ec: "EC"
        case .dissolvedOxygen: "DO"
        case .rtd: "RTD"
        }
    }

    public let kind: EZOKind
    private let scenario: ScenarioClock
    private let state = Mutex(State())

    /// A replayed circuit's transcript: every reply comes from it instead of the state machine.
    private let transcript: EZOTranscript?
    /// How far the probe is from ideal, which calibration corrects.
    public let probe: ProbeError

    /// A probe's error before calibration: the raw value is `gain` × the true one plus
    /// `offset` (about pH 7 for a pH probe, whose gain is its slope).
    public struct ProbeError: Sendable, Hashable {
        public var offset: Double
        public var gain: Double
        public init(offset: Double = 0, gain: Double = 1) {
            self.offset = offset
            self.gain = gain
        }
        public static let ideal = ProbeError()
    }

    public init(kind: EZOKind, scenario: Scenario, clock: any DeviceClock, probe: ProbeError = .ideal) {
        self.kind = kind
        self.scenario = ScenarioClock(scenario, clock: clock)
        self.transcript = nil
        self.probe = probe
    }

    /// The probe moves into a liquid of `value` (pH, mV, µS/cm, mg/L, °C); nil: back to the scenario's.
    public func immerse(in value: Double?) { state.withLock { $0.liquid = value } }

    /// What the uncalibrated circuit reads in the liquid.
    private func raw(_ s: State) -> Double {
        let truth = s.liquid ?? scenario.value
        return kind == .ph ? 7 + (truth - 7) * probe.gain + probe.offset : truth * probe.gain + probe.offset
    }

    /// The raw value through the circuit's calibration: pH piecewise-linear through mid and the
    /// low or high point on each side; EC through dry (zero) and one point or low and high;
    /// ORP and RTD one offset.
    private func calibrated(_ raw: Double, _ s: State) -> Double {
        let p = s.points
        switch kind {
        case .ph:
            guard let mid = p["mid"] else { return raw }
            let side = raw < mid.raw ? p["low"] : p["high"]
            let slope = side.map { ($0.value - mid.value) / ($0.raw - mid.raw) } ?? 1
            return mid.value + (raw - mid.raw) * (slope.isFinite ? slope : 1)
        case .ec:
            let zero = p["dry"]?.raw ?? 0
            if let low = p["low"], let high = p["high"], high.raw != low.raw {
                return low.value + (raw - low.raw) * (high.value - low.value) / (high.raw - low.raw)
            }
            if let one = p["one"] ?? p["high"] ?? p["low"], one.raw != zero {
                return (raw - zero) * one.value / (one.raw - zero)
            }
            return raw - zero
        case .orp, .rtd:
            return p["one"].map { raw + $0.value - $0.raw } ?? raw
        case .dissolvedOxygen:
            return raw
        }
    }

    /// A circuit replayed from a transcript: each command gets its captured replies in order
    /// (the last one repeating), after this circuit's datasheet delay; a command the transcript
    /// never saw answers 2 (syntax error).
    public init(kind: EZOKind, replaying transcript: EZOTranscript, clock: any DeviceClock) {
        self.kind = kind
        self.scenario = ScenarioClock(Scenario(shape: .constant(0)), clock: clock)
        self.transcript = transcript
        self.probe = .ideal
    }

    public var isAnswering: Bool { !scenario.droppedOut }

    /// Fault injection: the circuit hangs in "still processing".
    public func setStuckProcessing(_ stuck: Bool) { state.withLock { $0.stuckProcessing = stuck } }

    public var calibrationPoints: Int { state.withLock { $0.calibrationPoints } }
    public var temperatureCompensation: Double { state.withLock { $0.temperatureCompensation } }
    public var isAsleep: Bool { state.withLock { $0.asleep } }
    /// How many reads were answered 254 (still processing).
    public var busyReplies: Int { state.withLock { $0.busyReplies } }
    /// Sets the EC circuit's enabled outputs, as `O,<name>,1` / `O,<name>,0` would; names
    /// outside `ecOutputs` are ignored.
    public func setOutputs(_ names: [String]) {
        state.withLock { $0.outputs = Set(names.filter(Self.ecOutputs.contains)) }
    }

    /// The EC outputs enabled on the circuit, in reporting order.
    public var enabledOutputs: [String] { state.withLock { s in Self.ecOutputs.filter { s.outputs.contains($0) } } }
    /// Fault injection: the RTD circuit's probe is unplugged.
    public func setProbeOpen(_ open: Bool) { state.withLock { $0.probeOpen = open } }

    public func receive(_ bytes: [UInt8]) throws {
        let command = String(decoding: bytes, as: UTF8.self)
        let now = scenario.clock.now().bootNanos
        let parts = command.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
        // Querying (`Cal,?`) or erasing (`Cal,clear`) a calibration is not calibrating.
        let verb = parts == ["cal", "?"] || parts == ["cal", "clear"] ? "query" : parts.first ?? ""
        let ready = now + UInt64(Self.processingMillis(kind, verb: verb)) * 1_000_000
        state.withLock { s in
            s.asleep = false
            if command.lowercased() == "sleep" {
                s.asleep = true
                s.reply = nil
                return
            }
            if let transcript {
                let occurrence = s.sent[command.lowercased(), default: 0]
                s.sent[command.lowercased()] = occurrence + 1
                let exchange = transcript.reply(to: command, occurrence: occurrence)
                s.reply = (ready, exchange.map { [$0.status] + Array($0.payload.utf8) } ?? [2])
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
            if s.stuckProcessing || now < reply.ready {
                s.busyReplies += 1
                return [254]
            }
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
            return reading(calibrated(raw(s), s), state: s)
        case "rt" where parts.count == 2 && kind != .orp && kind != .rtd:
            guard let celsius = Double(parts[1]) else { return nil }
            s.temperatureCompensation = celsius
            return reading(calibrated(raw(s), s), state: s)
        case "slope" where kind == .ph && parts == ["slope", "?"]:
            // Acid and base slopes in % of the ideal probe, and the probe's mV at pH 7.
            guard let mid = s.points["mid"] else { return "?Slope,100.0,100.0,0.00" }
            func percent(_ point: (raw: Double, value: Double)?) -> Double {
                guard let point, point.value != mid.value else { return 100 }
                return 100 * (point.raw - mid.raw) / (point.value - mid.value)
            }
            return String(format: "?Slope,%.1f,%.1f,%.2f", percent(s.points["low"]), percent(s.points["high"]),
                          -(mid.raw - mid.value) * 59.16)
        case "o" where kind == .ec && parts.count == 2 && parts[1] == "?":
            return "?O," + Self.ecOutputs.filter { s.outputs.contains($0) }.joined(separator: ",")
        case "o" where kind == .ec && parts.count == 3 && (parts[2] == "0" || parts[2] == "1"):
            guard let output = Self.ecOutputs.first(where: { $0.lowercased() == parts[1] }) else { return nil }
            if parts[2] == "1" { s.outputs.insert(output) } else { s.outputs.remove(output) }
            return ""
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
            s.points = [:]
            return ""
        case "cal" where kind == .ec && parts == ["cal", "dry"]:
            s.calibrationPoints = 0
            s.points = ["dry": (raw(s), 0)]
            return ""
        case "cal" where parts.count == 2 && (kind == .orp || kind == .rtd || kind == .ec) && Double(parts[1]) != nil:
            // One-point calibration: ORP, RTD, and EC's single point.
            s.calibrationPoints = 1
            s.points["one"] = (raw(s), Double(parts[1])!)
            return ""
        case "cal" where parts.count == 3 && Double(parts[2]) != nil:
            let point = (raw: raw(s), value: Double(parts[2])!)
            switch (kind, parts[1]) {
            case (.ph, "mid"):
                // Datasheet: a mid-point calibration clears the other points.
                s.calibrationPoints = 1
                s.points = ["mid": point]
            case (.ph, "low"), (.ph, "high"): s.calibrationPoints = min(3, s.calibrationPoints + 1)
            case (.ec, "low"), (.ec, "high"): s.calibrationPoints = min(2, s.calibrationPoints + 1)
            default: return nil
            }
            s.points[parts[1]] = point
            return ""
        case "i" where parts.count == 1:
            return "?I,\(Self.deviceName(kind)),2.16"
        default:
            return nil
        }
    }

    private func reading(_ value: Double, state s: State) -> String {
        switch kind {
        case .ph: return String(format: "%.3f", value)
        case .rtd: return s.probeOpen ? "-1023.000" : String(format: "%.3f", value)
        case .orp: return String(format: "%.1f", value)
        case .dissolvedOxygen: return String(format: "%.2f", value)
        case .ec:
            let salinity = Self.practicalSalinity(microsiemens: value)
            // TDS with the circuit's default factor 0.54; SG from a linear seawater fit at 25 °C.
            let fields = [
                "EC": String(format: "%.1f", value), "TDS": String(format: "%.0f", value * 0.54),
                "S": String(format: "%.2f", salinity), "SG": String(format: "%.3f", 1 + 0.000_753 * salinity),
            ]
            return Self.ecOutputs.filter { s.outputs.contains($0) }.compactMap { fields[$0] }.joined(separator: ",")
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
