import Foundation

/// The thermometer families the kernel's w1_therm driver serves that this agent decodes,
/// by the family code that starts a slave id (`28-0316a2794bff` is a DS18B20).
///
/// The family decides the scratchpad's layout: the DS18B20 and DS1822 hold 1/16 °C in a
/// 12-bit register, the DS18S20 half degrees plus COUNT_REMAIN for the extended resolution,
/// the MAX31850 a 14-bit thermocouple temperature with fault bits.
public enum OneWireFamily: UInt8, Sendable, Hashable, CaseIterable {
    case ds18s20 = 0x10
    case ds1822 = 0x22
    case ds18b20 = 0x28
    case max31850 = 0x3B

    public var name: String {
        switch self {
        case .ds18s20: "DS18S20"
        case .ds1822: "DS1822"
        case .ds18b20: "DS18B20"
        case .max31850: "MAX31850"
        }
    }

    /// The two hex digits the kernel writes for the family (`3b`).
    public var code: String { String(format: "%02x", rawValue) }

    /// The family of a kernel slave id, or nil when it is not one of these.
    public init?(slave: String) {
        guard slave.utf8.count >= 2, let code = UInt8(slave.prefix(2), radix: 16) else { return nil }
        self.init(rawValue: code)
    }

    /// Why `slave` cannot be read: its family is not a thermometer this agent decodes.
    public static func unsupported(_ slave: String) -> SensorError {
        .unsupportedDevice("1-Wire slave \(slave) is family \(slave.prefix(2)), not a thermometer this agent reads ("
            + allCases.map { "\($0.code) \($0.name)" }.joined(separator: ", ") + ")")
    }
}

/// A Maxim 1-Wire thermometer (DS18B20, DS1822, DS18S20 or MAX31850) read through the kernel's
/// w1_therm driver; the slave id's family code decides how the scratchpad is decoded.
///
/// The temperature comes from the raw scratchpad bytes of `w1_slave`, not its `t=` field:
/// the kernel truncates (raw 0x0191 prints `t=25062`, the chip measured 25.0625 °C).
public struct OneWireThermometer<Bus: OneWireBus>: Sensor {
    public let bus: Bus
    /// The slave id, e.g. `28-0316a2794bff`.
    public let slave: String

    public init(bus: Bus, slave: String) {
        self.bus = bus
        self.slave = slave
    }

    public static var channels: [Channel] { [Channel(name: "temperature", unit: "°C")] }
    public var channels: [Channel] { Self.channels }

    /// What the DS18B20, DS1822 and DS18S20 measure (datasheets: −55 °C to +125 °C).
    public static var range: ClosedRange<Double> { -55...125 }

    public func read() async throws -> [Measurement] {
        guard let family = OneWireFamily(slave: slave) else { throw OneWireFamily.unsupported(slave) }
        let text: String
        do {
            text = try await bus.read(slave: slave, file: "w1_slave")
        } catch BusError.noDevice {
            throw SensorError.noDevice("1-Wire slave \(slave) is gone from the bus: check the probe cable")
        } catch {
            throw SensorError.wrapping(error)
        }
        return [Measurement(channel: "temperature", value: try Self.parseW1Slave(text, family: family), unit: "°C")]
    }

    /// Decodes the two-line `w1_slave` text:
    /// `91 01 4b 46 7f ff 0f 10 25 : crc=25 YES` / `91 01 4b 46 7f ff 0f 10 25 t=25062`.
    public static func parseW1Slave(_ text: String, family: OneWireFamily = .ds18b20) throws(SensorError) -> Double {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let first = lines.first else {
            throw .disconnected("empty w1_slave: the kernel saw no presence pulse or a CRC failure")
        }
        guard lines.count == 2, let crcMark = first.range(of: ": crc=") else {
            throw .corruptResponse("w1_slave is not two lines of scratchpad: \(text.prefix(120))")
        }
        let bytes = first[..<crcMark.lowerBound].split(separator: " ").compactMap { UInt8($0, radix: 16) }
        guard bytes.count == 9 else { throw .corruptResponse("scratchpad has \(bytes.count) bytes, expected 9") }
        if bytes.allSatisfy({ $0 == 0xFF }) { throw .disconnected("scratchpad reads all ones: the data line floats") }
        guard first.hasSuffix("YES") else { throw .crcMismatch("kernel reported \(first[crcMark.upperBound...])") }
        guard dallasCRC8(bytes[0..<8]) == bytes[8] else {
            throw .crcMismatch("scratchpad CRC \(hex(bytes[8])) does not match its bytes")
        }
        if bytes.allSatisfy({ $0 == 0 }) { throw .disconnected("scratchpad reads all zeros") }
        switch family {
        case .ds18b20, .ds1822: return try inRange(try temperature(lsb: bytes[0], msb: bytes[1], config: bytes[4]))
        case .ds18s20: return try inRange(try ds18s20Temperature(bytes))
        case .max31850: return try max31850Temperature(bytes)
        }
    }

    /// Decodes the newer `temperature` file (millidegrees, already truncated by the kernel).
    public static func parseTemperatureFile(_ text: String) throws(SensorError) -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .disconnected("empty temperature file: presence or CRC failure") }
        guard let milli = Int(trimmed) else { throw .corruptResponse("temperature file holds '\(trimmed.prefix(40))'") }
        if milli == 85000 { throw .powerOnReset }
        if milli == 127937 { throw .insufficientPower }
        return Double(milli) / 1000
    }

    /// The DS18B20 datasheet's 16-bit two's complement in 1/16 °C; low-resolution modes leave
    /// their unused low bits undefined, so they are masked by the configuration register.
    static func temperature(lsb: UInt8, msb: UInt8, config: UInt8) throws(SensorError) -> Double {
        let raw = UInt16(msb) << 8 | UInt16(lsb)
        if raw == 0x0550 { throw .powerOnReset }
        if raw == 0x07FF { throw .insufficientPower }
        let unusedBits = 3 - Int((config >> 5) & 0x03)
        let masked = Int16(bitPattern: raw & ~UInt16((1 << unusedBits) - 1))
        return Double(masked) / 16
    }

    /// DS18S20 datasheet: the register holds half degrees; the extended resolution is
    /// TEMP_READ − 0.25 + (COUNT_PER_C − COUNT_REMAIN) / COUNT_PER_C, where TEMP_READ is the
    /// register with its half-degree bit truncated, COUNT_REMAIN byte 6 and COUNT_PER_C byte 7.
    static func ds18s20Temperature(_ bytes: [UInt8]) throws(SensorError) -> Double {
        let raw = Int16(bitPattern: UInt16(bytes[1]) << 8 | UInt16(bytes[0]))
        if raw == 0x00AA, bytes[6] == 0x0C { throw .powerOnReset }
        let perDegree = Double(bytes[7]), remain = Double(bytes[6])
        guard perDegree > 0, remain <= perDegree else {
            throw .corruptResponse("DS18S20 COUNT_REMAIN \(bytes[6]) and COUNT_PER_C \(bytes[7]) cannot be right")
        }
        return Double(raw >> 1) - 0.25 + (perDegree - remain) / perDegree
    }

    /// MAX31850 datasheet: a 14-bit thermocouple temperature in 0.25 °C (bits 15:2 of bytes
    /// 0–1); bit 0 of byte 0 flags a fault, whose kind is in bits 0–2 of byte 2.
    static func max31850Temperature(_ bytes: [UInt8]) throws(SensorError) -> Double {
        if bytes[0] & 0x01 != 0 {
            let status = bytes[2]
            if status & 0x01 != 0 { throw .thermocoupleFault("open circuit: the thermocouple is unplugged or broken") }
            if status & 0x02 != 0 { throw .thermocoupleFault("thermocouple shorted to GND: check the probe's insulation") }
            if status & 0x04 != 0 { throw .thermocoupleFault("thermocouple shorted to VDD: check the probe's insulation") }
            throw .thermocoupleFault("the MAX31850 flags a fault without naming it")
        }
        let raw = Int16(bitPattern: (UInt16(bytes[1]) << 8 | UInt16(bytes[0])) & 0xFFFC)
        return Double(raw) / 16
    }

    private static func inRange(_ celsius: Double) throws(SensorError) -> Double {
        guard range.contains(celsius) else {
            throw .outOfRange("\(celsius) °C is outside the sensor's −55…+125 °C: the scratchpad is corrupt or the probe faulty")
        }
        return celsius
    }
}

/// The Dallas/Maxim 1-Wire CRC-8 (polynomial x⁸+x⁵+x⁴+1, reflected).
public func dallasCRC8<C: Collection>(_ bytes: C) -> UInt8 where C.Element == UInt8 {
    var crc: UInt8 = 0
    for byte in bytes {
        var b = byte
        for _ in 0..<8 {
            let mix = (crc ^ b) & 1
            crc >>= 1
            if mix != 0 { crc ^= 0x8C }
            b >>= 1
        }
    }
    return crc
}
