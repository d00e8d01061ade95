import AlertEngine
import HAL
import HALSimulation

/// A board and what is wired to it, read from `device-profiles/*.yaml`. Pure data: the
/// agent turns it into drivers on buses (hardware or simulated).
public struct DeviceProfile: Sendable {
    public var name: String
    public var board: String
    public var buses: [BusSpec]
    public var sensors: [SensorSpec]
    public var outputs: [OutputSpec]
    public var alerts: [AlertRule]
    public var sourcePath: String
}

public struct BusSpec: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable { case i2c, gpio, w1 }
    public var id: String
    public var kind: Kind
    /// `/dev/i2c-1` (or `1`), a gpiochip name or label, or the w1 devices directory.
    public var device: String
    /// Register- and protocol-level simulated hardware instead of the kernel's devices.
    public var simulated: Bool

    /// The N of an I2C device written `/dev/i2c-N`, `i2c-N` or `N`; nil for anything else.
    public static func i2cBusNumber(_ device: String) -> Int? {
        let prefix = ["/dev/i2c-", "i2c-"].first { device.hasPrefix($0) } ?? ""
        return Int(device.dropFirst(prefix.count))
    }
}

public struct SensorSpec: Sendable {
    public var id: String
    public var driver: DriverKind
    public var bus: String
    /// The I2C address: the profile's, else the driver's default; nil on other buses.
    public var address: UInt8?
    /// GPIO line: a name (`GPIO17`) or an offset (`17`).
    public var line: String?
    /// 1-Wire slave id (`28-0000075a1b2c`).
    public var slave: String?
    public var interval: Duration
    /// Replaces the driver's unit (an ADS1115 channel calibrated to pH).
    public var unit: String?
    public var activeLow: Bool
    public var debounce: Duration
    /// Flow meter pulses per litre.
    public var kFactor: Double
    /// ADS1115 input 0–3 (single-ended) and full-scale volts.
    public var adcInput: Int
    public var fullScale: Double
    public var filters: [FilterSpec]
    /// Scenario per channel, for sensors on simulated buses.
    public var simulation: [String: Scenario]
    /// The outputs enabled on a simulated EZO EC circuit (`EC`, `TDS`, `S`, `SG`); nil: the
    /// factory state, EC alone.
    public var simulatedOutputs: [String]?
    /// A chip captured on a device, replayed on a simulated bus instead of the scenarios.
    public var capture: DeviceCapture?

    public var channels: [Channel] {
        driver.channels.map { Channel(name: $0.name, unit: unit ?? $0.unit) }
    }

    /// Reading ids: the sensor id for single-channel drivers, `id.channel` otherwise.
    public func readingID(_ channel: String) -> String { driver.readingID(sensor: id, channel: channel) }
}

public struct OutputSpec: Sendable, Hashable {
    public var id: String
    public var bus: String
    public var line: String
    public var activeLow: Bool
    /// The state while no rule holds it.
    public var normal: Bool
    /// The state when the agent stops or crashes.
    public var failSafe: Bool
    public var description: String
}

/// One problem in a profile or in agent.yaml, at `file:line:column: key: message`: the one
/// error both files' readers report.
public struct ProfileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    /// Key path, e.g. `sensors[2].address`.
    public var key: String
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, key: String, message: String) {
        (self.file, self.line, self.column, self.key, self.message) = (file, line, column, key, message)
    }

    public var description: String {
        let place = [file, line.map(String.init), column.map(String.init)].compactMap { $0 }.joined(separator: ":")
        return key.isEmpty ? "\(place): \(message)" : "\(place): \(key): \(message)"
    }
}

/// Every problem in a profile, reported at once.
public struct ProfileErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ProfileError]
    public init(errors: [ProfileError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
