#if canImport(Glibc)
import Glibc
#endif

/// A bus transfer that failed, classified by what the user has to check.
///
/// Built from the kernel's errno at the one place a backend talks to the kernel, so that
/// every driver above reports the same cause the same way.
public enum BusError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing answered at the address (ENXIO, or EREMOTEIO from the Pi's controllers).
    case noDevice(String)
    /// The device node exists but this user may not open it.
    case permissionDenied(path: String, group: String)
    /// The bus device node does not exist: the interface is not enabled.
    case busMissing(path: String, hint: String)
    /// The transfer timed out (ETIMEDOUT): a chip holding SCL low, or a bus too long.
    case timeout(String)
    /// An electrical or protocol error during the transfer (EIO and others).
    case io(String, errno: Int32)

    /// Classifies an errno from opening a bus device node.
    public static func opening(_ path: String, errno code: Int32, group: String, enableHint: String) -> BusError {
        switch code {
        case EACCES, EPERM: .permissionDenied(path: path, group: group)
        case ENOENT, ENODEV: .busMissing(path: path, hint: enableHint)
        default: .io("open \(path)", errno: code)
        }
    }

    /// Classifies an errno from an I2C transfer to `address` on `bus`.
    public static func i2cTransfer(bus: String, address: UInt8, errno code: Int32) -> BusError {
        let target = "\(bus) address \(hex(address))"
        switch code {
        case ENXIO, EREMOTEIO: return .noDevice(target)
        case ETIMEDOUT: return .timeout(target)
        default: return .io(target, errno: code)
        }
    }

    public var description: String {
        switch self {
        case .noDevice(let target):
            "no device answers at \(target): check wiring, power and the address (i2cdetect -y <bus>)"
        case .permissionDenied(let path, let group):
            "permission denied opening \(path): add the agent's user to group '\(group)' (sudo usermod -aG \(group) <user>) and log in again"
        case .busMissing(let path, let hint):
            "\(path) does not exist: \(hint)"
        case .timeout(let target):
            "transfer to \(target) timed out: check for a chip holding the bus low, cable length and pull-ups"
        case .io(let target, let code):
            "I/O error (errno \(code)) talking to \(target): check wiring, pull-ups and power"
        }
    }
}

/// Why a sensor produced no value. A failed read is one of these, never a number.
public enum SensorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The device is not there (vanished 1-Wire slave, wrong chip id at the address).
    case noDevice(String)
    /// The data failed its checksum.
    case crcMismatch(String)
    /// DS18B20 returned 85 °C, its power-on value: no conversion happened.
    case powerOnReset
    /// DS18B20 returned 127.937 °C: parasite power could not drive the conversion.
    case insufficientPower
    /// The probe is electrically gone: all-ones data, an empty kernel file, an all-zero scratchpad.
    case disconnected(String)
    /// The chip still answered "processing" after every allowed retry.
    case stillProcessing(command: String, attempts: Int)
    /// The chip rejected the command (EZO status 2).
    case syntaxError(command: String)
    /// The chip has nothing to report (EZO status 255, BME280 skipped measurement).
    case noData(String)
    /// The reply does not have the chip's format.
    case corruptResponse(String)
    /// The converter clipped at full scale: the true value is outside the range.
    case saturated(code: Int16)
    /// The level kept changing for longer than the debounce allows.
    case unstable(String)
    /// The chip reported a value outside what it can measure (its datasheet range).
    case outOfRange(String)
    /// A thermocouple interface flagged its probe (open circuit, short to GND or VDD).
    case thermocoupleFault(String)
    /// The device at the address or id is not one this driver reads.
    case unsupportedDevice(String)
    /// The bus below the driver failed.
    case busError(BusError)

    public var description: String {
        switch self {
        case .noDevice(let what): "no device: \(what)"
        case .crcMismatch(let what): "CRC mismatch (\(what)): check the data line's pull-up (4.7 kΩ), cable length and grounding"
        case .powerOnReset: "DS18B20 reported 85 °C, its power-on value: the conversion did not run; check the supply voltage and the probe's power wire"
        case .insufficientPower: "DS18B20 reported 127.937 °C: not enough power for a conversion; wire VDD to 3.3 V instead of parasite power"
        case .disconnected(let what): "probe disconnected (\(what)): check the probe cable and connector"
        case .stillProcessing(let command, let attempts): "chip still processing '\(command)' after \(attempts) reads: power-cycle the circuit"
        case .syntaxError(let command): "chip rejected '\(command)' as a syntax error: check the command and the circuit's firmware"
        case .noData(let what): "no data: \(what)"
        case .corruptResponse(let what): "corrupt response (\(what)): check wiring and bus speed"
        case .saturated(let code): "converter saturated (code \(code)): the input is outside the gain's full scale; choose a larger full-scale range"
        case .unstable(let what): "input never settled: \(what); check for a loose wire or a chattering switch"
        case .outOfRange(let what): "value out of range: \(what)"
        case .thermocoupleFault(let what): "thermocouple fault: \(what)"
        case .unsupportedDevice(let what): "unsupported device: \(what)"
        case .busError(let error): error.description
        }
    }
}

extension SensorError {
    /// Wraps whatever a bus threw, so drivers only ever throw `SensorError`.
    static func wrapping(_ error: any Error) -> SensorError {
        switch error {
        case let sensor as SensorError: sensor
        case let bus as BusError: .busError(bus)
        default: .busError(.io(String(describing: error), errno: 0))
        }
    }
}

/// Runs a bus call and rethrows its failure as a `SensorError`.
@inline(__always)
func onBus<T>(_ body: () throws -> T) throws(SensorError) -> T {
    do { return try body() } catch { throw SensorError.wrapping(error) }
}

func hex(_ value: UInt8) -> String {
    let digits = String(value, radix: 16)
    return "0x" + (digits.count < 2 ? "0" + digits : digits)
}

extension SensorError {
    /// A stable short name for counting errors by kind in health reports ("crcMismatch",
    /// "bus.noDevice"): descriptions carry details that would split the counts.
    public var kind: String {
        switch self {
        case .noDevice: "noDevice"
        case .crcMismatch: "crcMismatch"
        case .powerOnReset: "powerOnReset"
        case .insufficientPower: "insufficientPower"
        case .disconnected: "disconnected"
        case .stillProcessing: "stillProcessing"
        case .syntaxError: "syntaxError"
        case .noData: "noData"
        case .corruptResponse: "corruptResponse"
        case .saturated: "saturated"
        case .unstable: "unstable"
        case .outOfRange: "outOfRange"
        case .thermocoupleFault: "thermocoupleFault"
        case .unsupportedDevice: "unsupportedDevice"
        case .busError(let bus):
            switch bus {
            case .noDevice: "bus.noDevice"
            case .permissionDenied: "bus.permissionDenied"
            case .busMissing: "bus.busMissing"
            case .timeout: "bus.timeout"
            case .io: "bus.io"
            }
        }
    }
}
