import EdgeCore
import HAL
import Synchronization

/// A chip on the simulated bus. It sees exactly the transactions a real chip would.
public protocol SimulatedI2CDevice: AnyObject, Sendable {
    func receive(_ bytes: [UInt8]) throws
    func transmit(count: Int) throws -> [UInt8]
    /// False while the chip's scenario is in a dropout: it then does not acknowledge.
    var isAnswering: Bool { get }
}

extension SimulatedI2CDevice {
    public var isAnswering: Bool { true }
}

/// A bus fault injected at one address.
public enum I2CFault: Sendable, Hashable {
    /// Nothing acknowledges the address (the Pi reports EREMOTEIO).
    case absent
    /// The chip stops acknowledging mid-transfer (EIO).
    case nak
    /// The transfer times out (ETIMEDOUT).
    case timeout
    /// Every byte read has these bits flipped.
    case corruptBytes(xor: UInt8)
}

/// An I2C bus hosting simulated chips by address, for tests and the default profile.
public final class SimulatedI2CBus: I2CBus {
    private struct State {
        var devices: [UInt8: any SimulatedI2CDevice] = [:]
        var faults: [UInt8: I2CFault] = [:]
    }

    private let state = Mutex(State())
    /// The name errors use, like the Linux backend's `i2c-1`.
    public let name: String

    public init(name: String = "sim-i2c") { self.name = name }

    public func attach(_ device: any SimulatedI2CDevice, at address: UInt8) {
        state.withLock { $0.devices[address] = device }
    }

    public func detach(at address: UInt8) {
        _ = state.withLock { $0.devices.removeValue(forKey: address) }
    }

    /// Injects (or with nil clears) a fault at `address`.
    public func setFault(_ fault: I2CFault?, at address: UInt8) {
        state.withLock { $0.faults[address] = fault }
    }

    public func write(_ bytes: [UInt8], to address: UInt8) throws {
        try device(at: address).receive(bytes)
    }

    public func read(count: Int, from address: UInt8) throws -> [UInt8] {
        let bytes = try device(at: address).transmit(count: count)
        return corrupt(bytes, at: address)
    }

    public func writeRead(_ bytes: [UInt8], readCount: Int, at address: UInt8) throws -> [UInt8] {
        let device = try device(at: address)
        try device.receive(bytes)
        return corrupt(try device.transmit(count: readCount), at: address)
    }

    private func device(at address: UInt8) throws -> any SimulatedI2CDevice {
        let (device, fault) = state.withLock { ($0.devices[address], $0.faults[address]) }
        switch fault {
        case .absent: throw BusError.i2cTransfer(bus: name, address: address, errno: 121)
        case .nak: throw BusError.i2cTransfer(bus: name, address: address, errno: 5)
        case .timeout: throw BusError.i2cTransfer(bus: name, address: address, errno: 110)
        case .corruptBytes, nil: break
        }
        guard let device, device.isAnswering else {
            throw BusError.i2cTransfer(bus: name, address: address, errno: 121)
        }
        return device
    }

    private func corrupt(_ bytes: [UInt8], at address: UInt8) -> [UInt8] {
        guard case .corruptBytes(let mask) = state.withLock({ $0.faults[address] }) else { return bytes }
        return bytes.map { $0 ^ mask }
    }
}

/// A register-pointer chip's memory: a write's first byte sets the pointer, the rest are
/// stored from there; reads continue from the pointer. Both auto-increment.
struct RegisterFile: Sendable {
    var bytes = [UInt8](repeating: 0, count: 256)
    /// Registers that are not readable (`XX` in an i2cdump).
    var unreadable = Set<UInt8>()
    /// Registers a replayed capture does not hold (blank cells of a ranged dump).
    var uncaptured = Set<UInt8>()
    var pointer: UInt8 = 0

    mutating func receive(_ data: [UInt8], store: (inout RegisterFile, UInt8, UInt8) -> Void) {
        guard let first = data.first else { return }
        pointer = first
        for byte in data.dropFirst() {
            store(&self, pointer, byte)
            pointer &+= 1
        }
    }

    mutating func transmit(count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<count {
            if unreadable.contains(pointer) { throw BusError.io("register \(pointer)", errno: 5) }
            if uncaptured.contains(pointer) {
                throw BusError.io("register \(hex(pointer)), which the capture does not hold (dump a range that includes it)", errno: 5)
            }
            out.append(bytes[Int(pointer)])
            pointer &+= 1
        }
        return out
    }
}

func hex(_ value: UInt8) -> String {
    let digits = String(value, radix: 16)
    return "0x" + (digits.count < 2 ? "0" + digits : digits)
}
