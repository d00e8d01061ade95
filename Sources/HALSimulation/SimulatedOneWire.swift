import EdgeCore
import Foundation
import HAL
import Synchronization

/// A w1 sysfs tree in a temporary directory, written with the kernel's exact text, so tests
/// read it through the production `SysfsOneWire`.
///
/// Each slave's files are rewritten from its scenario (°C) by `refresh()`; `bus` refreshes
/// the slave before every read of it, as the kernel converts on each read, then reads
/// through `SysfsOneWire`.
public final class SimulatedOneWire: Sendable {
    /// What the kernel shows for one slave.
    public enum Fault: Sendable, Hashable {
        /// Older kernels: scratchpad with `crc=.. NO`.
        case crcFailureOldKernel
        /// Current kernels: empty `w1_slave` and `temperature` after a CRC or presence failure.
        case emptyFile
        /// A conversion that never ran: the 85 °C power-on value.
        case powerOnReset
        /// Parasite power too weak: 127.937 °C.
        case insufficientPower
        /// An all-zero scratchpad, which passes the CRC.
        case allZeroScratchpad
        /// The data line floats: all-ones bytes.
        case allOnes
        /// MAX31850: the thermocouple is open (unplugged or broken).
        case thermocoupleOpen
        /// MAX31850: the thermocouple touches ground.
        case thermocoupleShortToGround
        /// MAX31850: the thermocouple touches VDD.
        case thermocoupleShortToVDD
    }

    fileprivate struct Slave {
        var scenario: ScenarioClock
        var fault: Fault?
    }

    public let root: URL
    private let clock: any DeviceClock
    private let slaves = Mutex<[String: Slave]>([:])

    public init(clock: any DeviceClock) throws {
        self.clock = clock
        root = FileManager.default.temporaryDirectory.appendingPathComponent("w1-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("w1_bus_master1"), withIntermediateDirectories: true)
        try writeMasterList()
    }

    /// The production sysfs backend pointed at the temp directory (no refresh of its own).
    public var sysfs: SysfsOneWire { SysfsOneWire(root: root.path) }

    /// A bus for drivers: converts (refreshes the files) on each read, then reads them
    /// through the production `SysfsOneWire`.
    public var bus: Bus { Bus(tree: self) }

    public struct Bus: OneWireBus {
        let tree: SimulatedOneWire

        public func slaves() async throws -> [String] { try await tree.sysfs.slaves() }

        public func read(slave: String, file: String) async throws -> String {
            try tree.refresh(slave: slave)
            return try await tree.sysfs.read(slave: slave, file: file)
        }
    }

    /// Adds a slave directory; `id` must be the kernel's form (`28-0316a2794bff`), so no
    /// profile can make the simulation create or overwrite files outside `root`.
    public func addSlave(_ id: String, scenario: Scenario) throws {
        guard DeviceNames.isOneWireSlave(id) else {
            throw BusError.noDevice("1-Wire slave id '\(id)' is not the kernel's form (2 hex digits, '-', 12 hex digits)")
        }
        slaves.withLock { $0[id] = Slave(scenario: ScenarioClock(scenario, clock: clock)) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent(id), withIntermediateDirectories: true)
        try writeMasterList()
        try refresh()
    }

    /// The slave disappears from the bus, its directory with it.
    public func removeSlave(_ id: String) throws {
        guard DeviceNames.isOneWireSlave(id) else { throw BusError.noDevice("1-Wire slave id '\(id)' is not the kernel's form") }
        _ = slaves.withLock { $0.removeValue(forKey: id) }
        try FileManager.default.removeItem(at: root.appendingPathComponent(id))
        try writeMasterList()
    }

    public func setFault(_ fault: Fault?, slave id: String) throws {
        slaves.withLock { $0[id]?.fault = fault }
        try refresh()
    }

    /// Rewrites every slave's `w1_slave` and `temperature` for the clock's current time.
    public func refresh() throws {
        for id in slaves.withLock({ Array($0.keys) }) { try refresh(slave: id) }
    }

    /// Rewrites one slave's files; a slave not on the bus has none to rewrite.
    func refresh(slave id: String) throws {
        guard let slave = slaves.withLock({ $0[id] }) else { return }
        let family = UInt8(id.prefix(2), radix: 16) ?? 0x28
        let (w1, temperature) = Self.kernelText(celsius: slave.scenario.value, fault: slave.fault, family: family)
        let directory = root.appendingPathComponent(id).path
        try Self.replace(directory + "/w1_slave", with: w1)
        try Self.replace(directory + "/temperature", with: temperature)
    }

    /// Truncates and rewrites in place. The bus refreshes a slave and then reads it in the
    /// same call, so no reader sees a half-written file. No temporary file, rename or fsync:
    /// these files stand in for kernel memory, not data. (`String.write(atomically:)` did all
    /// three, and at 1 Hz that was a quarter of the agent's CPU; docs/BENCHMARKS.md.)
    private static func replace(_ path: String, with text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// The kernel's w1_therm text for a conversion of `celsius` by a chip of `family` (given by
    /// the slave id's first two hex digits), built from the chip's datasheet scratchpad and
    /// w1_therm's formatting: `crc=` is the CRC the kernel computes over bytes 0–7, `YES` when it
    /// equals byte 8, and `t=` the kernel's own conversion for the family.
    public static func kernelText(celsius: Double, fault: Fault?, family: UInt8 = 0x28) -> (w1Slave: String, temperature: String) {
        if fault == .emptyFile { return ("", "") }
        var pad = scratchpad(celsius: celsius, fault: fault, family: family)
        if fault == .allZeroScratchpad { pad = [UInt8](repeating: 0, count: 8) }
        if fault == .allOnes { pad = [UInt8](repeating: 0xFF, count: 8) }
        let crc = dallasCRC8(pad)
        // What arrives as byte 8: all ones from a floating line, a corrupted byte on a CRC failure.
        let received: UInt8 = switch fault {
        case .allOnes: 0xFF
        case .crcFailureOldKernel: crc ^ 0x5A
        default: crc
        }
        let rom = pad + [received]
        let good = received == crc
        let bytes = rom.map { String(format: "%02x", $0) }.joined(separator: " ")
        let milli = kernelMillidegrees(rom, family: family)
        let w1 = "\(bytes) : crc=\(String(format: "%02x", crc)) \(good ? "YES" : "NO")\n\(bytes) t=\(milli)\n"
        return (w1, good ? "\(milli)\n" : "")
    }

    /// Bytes 0–7 of the chip's scratchpad after a conversion of `celsius`, from its datasheet.
    static func scratchpad(celsius: Double, fault: Fault?, family: UInt8) -> [UInt8] {
        switch family {
        case 0x10:
            // DS18S20: half degrees, COUNT_REMAIN (byte 6) and COUNT_PER_C = 16 (byte 7), such that
            // TEMP_READ − 0.25 + (16 − COUNT_REMAIN)/16 is the temperature to 1/16 °C.
            if fault == .powerOnReset { return [0xAA, 0x00, 0x4B, 0x46, 0xFF, 0xFF, 0x0C, 0x10] }
            let half = (celsius * 2).rounded().saturatingInteger(Int16.self)
            let sixteenths = (celsius * 16).rounded()
            let remain = UInt8(min(16, max(0, 16 * Double(half >> 1) + 12 - (sixteenths.isFinite ? sixteenths : 0))))
            let raw = UInt16(bitPattern: half)
            return [UInt8(raw & 0xFF), UInt8(raw >> 8), 0x4B, 0x46, 0xFF, 0xFF, remain, 0x10]
        case 0x3B:
            // MAX31850: 14-bit thermocouple °C × 4 in bits 15:2 (bit 0 the fault flag), a 12-bit
            // cold junction °C × 16 in bits 15:4 of bytes 2–3 (bits 0–2: OC, SCG, SCV), config
            // 0xF0 with the address pins low, reserved bytes all ones.
            let quarters = max(-8192, min(8191, (celsius * 4).rounded().saturatingInteger(Int16.self)))
            var thermocouple = UInt16(bitPattern: quarters << 2)
            var coldJunction = UInt16(bitPattern: Int16(25 * 16) << 4)
            let status: UInt16 = switch fault {
            case .thermocoupleOpen: 0x01
            case .thermocoupleShortToGround: 0x02
            case .thermocoupleShortToVDD: 0x04
            default: 0
            }
            if status != 0 {
                thermocouple |= 0x0001
                coldJunction |= status
            }
            return [UInt8(thermocouple & 0xFF), UInt8(thermocouple >> 8), UInt8(coldJunction & 0xFF), UInt8(coldJunction >> 8),
                    0xF0, 0xFF, 0xFF, 0xFF]
        default:
            // DS18B20 and DS1822: 1/16 °C in 12 bits; the 16-bit register saturates like the
            // chip's; NaN reads as 0.
            var raw = UInt16(bitPattern: (celsius * 16).saturatingInteger(Int16.self))
            if fault == .powerOnReset { raw = 0x0550 }
            if fault == .insufficientPower { raw = 0x07FF }
            return [UInt8(raw & 0xFF), UInt8(raw >> 8), 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10]
        }
    }

    /// w1_therm's conversion to millidegrees for the family, in C's integer arithmetic.
    static func kernelMillidegrees(_ rom: [UInt8], family: UInt8) -> Int {
        switch family {
        case 0x10:
            // w1_DS18S20_convert_temp
            guard rom[7] != 0 else { return 0 }
            var t = rom[1] == 0 ? (Int(rom[0]) >> 1) * 1000 : 1000 * ((-1 * (0x100 - Int(rom[0]))) >> 1)
            t -= 250
            t += 1000 * (Int(rom[7]) - Int(rom[6])) / Int(rom[7])
            return t
        case 0x3B:
            // w1_DS1825_convert_temp: a MAX31850 (config bit 7 set) has its fault and reserved bits masked.
            var bv = UInt16(rom[1]) << 8 | UInt16(rom[0])
            if rom[4] & 0x80 != 0 { bv &= 0xFFFC }
            return Int(Int16(bitPattern: bv)) * 1000 / 16
        default:
            // w1_DS18B20_convert_temp: bits below the configured resolution cleared.
            var bv = UInt16(rom[1]) << 8 | UInt16(rom[0])
            let resolution = Int((rom[4] >> 5) & 0x03) + 9
            bv &= ~UInt16((1 << (12 - resolution)) - 1)
            return Int(Int16(bitPattern: bv)) * 1000 / 16
        }
    }

    private func writeMasterList() throws {
        let ids = slaves.withLock { $0.keys.sorted() }
        let text = ids.isEmpty ? "not found.\n" : ids.map { $0 + "\n" }.joined()
        try text.write(to: root.appendingPathComponent("w1_bus_master1/w1_master_slaves"), atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(at: root) }
}
