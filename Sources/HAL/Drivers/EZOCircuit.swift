import EdgeCore
import Foundation
import Logging
import Synchronization

/// Which Atlas Scientific EZO circuit: its default address, channels and read delay.
public enum EZOKind: String, Sendable, Hashable, CaseIterable {
    case ph, orp, ec, dissolvedOxygen, rtd

    public var defaultAddress: UInt8 {
        switch self {
        case .dissolvedOxygen: 0x61
        case .orp: 0x62
        case .ph: 0x63
        case .ec: 0x64
        case .rtd: 0x66
        }
    }

    public var channels: [Channel] {
        switch self {
        case .ph: [Channel(name: "ph", unit: "pH")]
        case .orp: [Channel(name: "orp", unit: "mV")]
        case .dissolvedOxygen: [Channel(name: "dissolved_oxygen", unit: "mg/L")]
        case .rtd: [Channel(name: "temperature", unit: "°C")]
        case .ec: [
            Channel(name: "conductivity", unit: "µS/cm"), Channel(name: "tds", unit: "ppm"),
            Channel(name: "salinity", unit: "ppt"), Channel(name: "specific_gravity", unit: "SG"),
        ]
        }
    }

    /// Atlas's mandated wait between writing `command` and reading its reply (the datasheets'
    /// processing delays): calibrating 900 ms on pH and ORP, 600 ms on EC and RTD, 1300 ms on DO;
    /// a read (`R`, `RT,n`) 900 ms on pH and ORP, 600 ms on EC, DO and RTD; anything else 300 ms.
    /// `Cal,?` and `Cal,clear` only query or erase, at 300 ms.
    public func delay(for command: String) -> Duration {
        let parts = command.split(separator: ",", omittingEmptySubsequences: false).map { $0.lowercased() }
        let verb = parts == ["cal", "?"] || parts == ["cal", "clear"] ? "query" : parts.first ?? ""
        switch (self, verb) {
        case (.ph, "r"), (.orp, "r"), (.ph, "rt"), (.orp, "rt"): return .milliseconds(900)
        case (_, "r"), (_, "rt"): return .milliseconds(600)
        case (.ph, "cal"), (.orp, "cal"): return .milliseconds(900)
        case (.ec, "cal"), (.rtd, "cal"): return .milliseconds(600)
        case (.dissolvedOxygen, "cal"): return .milliseconds(1300)
        default: return .milliseconds(300)
        }
    }

    /// What the circuit can measure (the datasheets' ranges); a value outside is not a reading.
    public var range: ClosedRange<Double> {
        switch self {
        case .ph: 0.001...14.000
        case .orp: -1019.9...1019.9
        case .ec: 0.07...500_000
        case .dissolvedOxygen: 0...100
        case .rtd: -126...1254
        }
    }
}

/// One output of the EC circuit (`O,<name>,0|1`), in the order the circuit reports them.
public enum EZOECOutput: String, Sendable, Hashable, CaseIterable {
    case ec = "EC", tds = "TDS", salinity = "S", specificGravity = "SG"

    /// The channel the output's value is stored under.
    public var channel: Channel { EZOKind.ec.channels[EZOECOutput.allCases.firstIndex(of: self)!] }

    /// Parses an `O,?` reply: `?O,EC,TDS` lists the enabled outputs (always in this order).
    public static func enabled(inReply reply: String) throws(SensorError) -> [EZOECOutput] {
        let fields = reply.split(separator: ",").map(String.init)
        guard fields.first?.uppercased() == "?O" else { throw .corruptResponse("O,? answered '\(reply)'") }
        let names = Set(fields.dropFirst().map { $0.uppercased() })
        return allCases.filter { names.contains($0.rawValue) }
    }
}

/// A calibration point of `Cal,<point>,<value>`. On pH, `mid` must come first: it clears the others.
public enum EZOCalibrationPoint: String, Sendable {
    case mid, low, high
}

/// An Atlas Scientific EZO circuit in I2C mode.
///
/// EZO circuits have no registers: a command is a plain write of ASCII, the reply a plain
/// read of up to 31 bytes after the command's delay. A combined write-read would be taken
/// as a second command, so this driver never uses one.
///
/// The EC circuit reports only the outputs enabled on it (firmware 2.10 and later ship with EC
/// alone): the driver asks `O,?` before its first read and after any failed one, maps the
/// reply's fields to those outputs, and logs each disabled channel once with the command that
/// enables it, instead of failing every poll.
public struct EZOCircuit<Bus: I2CBus>: Sensor {
    public let bus: Bus
    public let address: UInt8
    public let kind: EZOKind
    public let clock: any DeviceClock
    /// Reads answered "still processing" (254) before giving up.
    public let processingRetries: Int
    /// Wait between those reads.
    public let retryDelay: Duration
    public let logger: Logger
    private let outputs = ECOutputMemory()

    public init(
        bus: Bus, address: UInt8? = nil, kind: EZOKind, clock: any DeviceClock,
        processingRetries: Int = 3, retryDelay: Duration = .milliseconds(300),
        logger: Logger = Logger(label: "edge-agent.hal.ezo")
    ) {
        self.bus = bus
        self.address = address ?? kind.defaultAddress
        self.kind = kind
        self.clock = clock
        self.processingRetries = processingRetries
        self.retryDelay = retryDelay
        self.logger = logger
    }

    public var channels: [Channel] { kind.channels }

    public func read() async throws -> [Measurement] {
        guard kind == .ec else { return try Self.parseReading(try await command("R"), kind: kind) }
        do {
            let enabled = try await enabledOutputs()
            return try Self.parseReading(try await command("R"), kind: kind, channels: enabled.map(\.channel))
        } catch {
            outputs.forget()
            throw error
        }
    }

    /// The EC outputs enabled on the circuit, learnt with `O,?` when not known.
    public func enabledOutputs() async throws -> [EZOECOutput] {
        if let known = outputs.known { return known }
        let enabled = try EZOECOutput.enabled(inReply: try await command("O,?"))
        guard !enabled.isEmpty else {
            throw SensorError.noData("every output is disabled on the EC circuit at \(hex(address)): enable EC with O,EC,1")
        }
        for output in outputs.learn(enabled) {
            logger.notice("EC output disabled on the circuit; enable it with the command", metadata: [
                "channel": "\(output.channel.name)", "command": "O,\(output.rawValue),1", "address": "\(hex(address))",
            ])
        }
        return enabled
    }

    /// Sets temperature compensation (`T,<°C>`) for pH, EC and DO.
    public func setTemperatureCompensation(_ celsius: Double) async throws {
        _ = try await command("T," + String(format: "%.2f", celsius))
    }

    public func calibrate(_ point: EZOCalibrationPoint, value: Double) async throws {
        _ = try await command("Cal,\(point.rawValue)," + String(format: "%.2f", value))
    }

    /// How many calibration points the circuit holds (`Cal,?` → `?CAL,n`).
    public func calibrationPoints() async throws -> Int {
        let reply = try await command("Cal,?")
        guard reply.uppercased().hasPrefix("?CAL,"), let count = Int(reply.dropFirst(5)) else {
            throw SensorError.corruptResponse("Cal,? answered '\(reply)'")
        }
        return count
    }

    /// Device type and firmware (`i` → `?i,pH,2.16`).
    public func info() async throws -> String { try await command("i") }

    /// Puts the circuit to sleep. It sends no reply; any later command wakes it.
    public func sleep() throws {
        try onBus { try bus.write(Array("Sleep".utf8), to: address) }
    }

    /// Sends one command, waits its delay, and returns the reply's payload (possibly empty).
    public func command(_ text: String) async throws -> String {
        try onBus { try bus.write(Array(text.utf8), to: address) }
        try await clock.sleep(for: kind.delay(for: text))
        var attempts = 1
        while true {
            let bytes = try onBus { try bus.read(count: 31, from: address) }
            if let payload = try Self.parseResponse(bytes, command: text) { return payload }
            guard attempts <= processingRetries else {
                throw SensorError.stillProcessing(command: text, attempts: attempts)
            }
            attempts += 1
            try await clock.sleep(for: retryDelay)
        }
    }

    /// Decodes a raw reply: status byte, ASCII payload, NUL padding. Returns nil for 254
    /// (still processing). Bit 7 of payload bytes is cleared: the Pi's clock-stretching
    /// bug sets it, and Atlas's own code clears it too.
    public static func parseResponse(_ bytes: [UInt8], command: String) throws(SensorError) -> String? {
        guard let status = bytes.first else { throw .corruptResponse("empty reply to '\(command)'") }
        switch status {
        case 1: break
        case 2: throw .syntaxError(command: command)
        case 254: return nil
        case 255: throw .noData("the circuit had no reply pending for '\(command)'")
        default: throw .corruptResponse("status byte \(status) to '\(command)'")
        }
        var payload: [UInt8] = []
        for byte in bytes.dropFirst() {
            let ascii = byte & 0x7F
            if ascii == 0 { break }
            guard ascii >= 0x20, ascii < 0x7F else {
                throw .corruptResponse("non-printable byte \(hex(byte)) in reply to '\(command)'")
            }
            payload.append(ascii)
        }
        return String(decoding: payload, as: UTF8.self)
    }

    /// Turns an `R` payload into measurements of `channels` (the EC circuit's enabled outputs;
    /// every other circuit reports its one channel). The first value must be in the circuit's range.
    public static func parseReading(_ payload: String, kind: EZOKind, channels: [Channel]? = nil) throws(SensorError) -> [Measurement] {
        let fields = payload.split(separator: ",", omittingEmptySubsequences: false)
        let channels = channels ?? kind.channels
        guard fields.count == channels.count else {
            throw .corruptResponse("'\(payload)' has \(fields.count) values, the circuit's enabled outputs are "
                + channels.map(\.name).joined(separator: ", ") + "; the outputs are asked again (O,?)")
        }
        var measurements: [Measurement] = []
        for (field, channel) in zip(fields, channels) {
            guard let value = Double(field), value.isFinite else {
                throw .corruptResponse("'\(field)' is not a number in '\(payload)'")
            }
            measurements.append(Measurement(channel: channel.name, value: value, unit: channel.unit))
        }
        // The RTD circuit reports -1023 when no probe is attached.
        if kind == .rtd, measurements[0].value == -1023 { throw .disconnected("EZO-RTD reports -1023: no probe attached") }
        // The range is the primary quantity's (an EC circuit with EC disabled reports TDS first).
        if let first = measurements.first, channels.first == kind.channels.first, !kind.range.contains(first.value) {
            throw .outOfRange("\(first.value) \(first.unit) is outside the EZO \(kind.rawValue) circuit's range "
                + "\(kind.range.lowerBound)…\(kind.range.upperBound): check the probe and its calibration")
        }
        return measurements
    }
}

/// The EC outputs learnt from the circuit, shared by copies of one driver, and the disabled
/// channels already logged (each once per driver).
private final class ECOutputMemory: Sendable {
    private struct State {
        var known: [EZOECOutput]?
        var reported: Set<EZOECOutput> = []
    }

    private let state = Mutex(State())

    var known: [EZOECOutput]? { state.withLock { $0.known } }

    func forget() { state.withLock { $0.known = nil } }

    /// Stores what is enabled; returns the disabled outputs not reported before.
    func learn(_ enabled: [EZOECOutput]) -> [EZOECOutput] {
        state.withLock { s in
            s.known = enabled
            let fresh = EZOECOutput.allCases.filter { !enabled.contains($0) && !s.reported.contains($0) }
            s.reported.formUnion(fresh)
            return fresh
        }
    }
}
