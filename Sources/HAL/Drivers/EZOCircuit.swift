import EdgeCore
import Foundation

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

    /// Atlas's mandated wait between writing `command` and reading its reply.
    public func delay(for command: String) -> Duration {
        let verb = command.split(separator: ",", maxSplits: 1).first.map { $0.lowercased() } ?? ""
        switch (self, verb) {
        case (.ph, "r"), (.orp, "r"): return .milliseconds(900)
        case (_, "r"): return .milliseconds(600)
        case (.dissolvedOxygen, "cal"): return .milliseconds(1300)
        default: return .milliseconds(300)
        }
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
public struct EZOCircuit<Bus: I2CBus>: Sensor {
    public let bus: Bus
    public let address: UInt8
    public let kind: EZOKind
    public let clock: any DeviceClock
    /// Reads answered "still processing" (254) before giving up.
    public let processingRetries: Int
    /// Wait between those reads.
    public let retryDelay: Duration

    public init(
        bus: Bus, address: UInt8? = nil, kind: EZOKind, clock: any DeviceClock,
        processingRetries: Int = 3, retryDelay: Duration = .milliseconds(300)
    ) {
        self.bus = bus
        self.address = address ?? kind.defaultAddress
        self.kind = kind
        self.clock = clock
        self.processingRetries = processingRetries
        self.retryDelay = retryDelay
    }

    public var channels: [Channel] { kind.channels }

    public func read() async throws -> [Measurement] {
        let reply = try await command("R")
        return try Self.parseReading(reply, kind: kind)
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

    /// Turns an `R` payload into measurements. EC needs all four outputs enabled
    /// (`O,EC,1`, `O,TDS,1`, `O,S,1`, `O,SG,1`, the factory default).
    public static func parseReading(_ payload: String, kind: EZOKind) throws(SensorError) -> [Measurement] {
        let fields = payload.split(separator: ",", omittingEmptySubsequences: false)
        let channels = kind.channels
        guard fields.count == channels.count else {
            throw .corruptResponse("'\(payload)' has \(fields.count) values, \(kind) reports \(channels.count)"
                + (kind == .ec ? "; enable all outputs with O,EC,1 O,TDS,1 O,S,1 O,SG,1" : ""))
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
        return measurements
    }
}
