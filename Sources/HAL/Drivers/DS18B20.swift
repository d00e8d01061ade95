import Foundation

/// A Maxim DS18B20 temperature probe read through the kernel's w1_therm driver.
///
/// The temperature comes from the raw scratchpad bytes of `w1_slave`, not its `t=` field:
/// the kernel truncates (raw 0x0191 prints `t=25062`, the chip measured 25.0625 °C).
public struct DS18B20<Bus: OneWireBus>: Sensor {
    public let bus: Bus
    /// The slave id, e.g. `28-0316a2794bff`.
    public let slave: String

    public init(bus: Bus, slave: String) {
        self.bus = bus
        self.slave = slave
    }

    public static var channels: [Channel] { [Channel(name: "temperature", unit: "°C")] }
    public var channels: [Channel] { Self.channels }

    public func read() async throws -> [Measurement] {
        let text: String
        do {
            text = try await bus.read(slave: slave, file: "w1_slave")
        } catch BusError.noDevice {
            throw SensorError.noDevice("1-Wire slave \(slave) is gone from the bus: check the probe cable")
        } catch {
            throw SensorError.wrapping(error)
        }
        return [Measurement(channel: "temperature", value: try Self.parseW1Slave(text), unit: "°C")]
    }

    /// Decodes the two-line `w1_slave` text:
    /// `91 01 4b 46 7f ff 0f 10 25 : crc=25 YES` / `91 01 4b 46 7f ff 0f 10 25 t=25062`.
    public static func parseW1Slave(_ text: String) throws(SensorError) -> Double {
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
        return try temperature(lsb: bytes[0], msb: bytes[1], config: bytes[4])
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

    /// The datasheet's 16-bit two's complement in 1/16 °C; low-resolution modes leave
    /// their unused low bits undefined, so they are masked by the configuration register.
    static func temperature(lsb: UInt8, msb: UInt8, config: UInt8) throws(SensorError) -> Double {
        let raw = UInt16(msb) << 8 | UInt16(lsb)
        if raw == 0x0550 { throw .powerOnReset }
        if raw == 0x07FF { throw .insufficientPower }
        let unusedBits = 3 - Int((config >> 5) & 0x03)
        let masked = Int16(bitPattern: raw & ~UInt16((1 << unusedBits) - 1))
        return Double(masked) / 16
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
