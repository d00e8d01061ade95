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
        let (w1, temperature) = Self.kernelText(celsius: slave.scenario.value, fault: slave.fault)
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

    /// The kernel's w1_therm text for a 12-bit conversion of `celsius`.
    public static func kernelText(celsius: Double, fault: Fault?) -> (w1Slave: String, temperature: String) {
        // The 16-bit register saturates like the chip's; NaN reads as 0.
        var raw = UInt16(bitPattern: (celsius * 16).saturatingInteger(Int16.self))
        switch fault {
        case .emptyFile: return ("", "")
        case .powerOnReset: raw = 0x0550
        case .insufficientPower: raw = 0x07FF
        default: break
        }
        var pad: [UInt8] = [UInt8(raw & 0xFF), UInt8(raw >> 8), 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10]
        if fault == .allZeroScratchpad { pad = [UInt8](repeating: 0, count: 8) }
        if fault == .allOnes { pad = [UInt8](repeating: 0xFF, count: 8) }
        let crc = fault == .allOnes ? 0xFF : dallasCRC8(pad)
        let good = fault != .crcFailureOldKernel && fault != .allOnes
        let scratch = (pad + [crc]).map { String(format: "%02x", $0) }.joined(separator: " ")
        // w1_therm: millidegrees = raw × 1000 / 16, truncated toward zero (C integer division).
        let milli = Int(Int16(bitPattern: UInt16(pad[1]) << 8 | UInt16(pad[0]))) * 1000 / 16
        let w1 = "\(scratch) : crc=\(String(format: "%02x", crc)) \(good ? "YES" : "NO")\n\(scratch) t=\(milli)\n"
        return (w1, good ? "\(milli)\n" : "")
    }

    private func writeMasterList() throws {
        let ids = slaves.withLock { $0.keys.sorted() }
        let text = ids.isEmpty ? "not found.\n" : ids.map { $0 + "\n" }.joined()
        try text.write(to: root.appendingPathComponent("w1_bus_master1/w1_master_slaves"), atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(at: root) }
}
