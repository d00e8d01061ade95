import EdgeCore
import HAL
import HALSimulation
import Profiles

/// Turns a profile into drivers on buses: opens each bus (the kernel's device or its
/// simulation) and puts each sensor's driver on it as the driver registry declares
/// (`OpenBus.attach`). The one place that knows a bus may be simulated: drivers get an
/// `I2CBus`, `OneWireBus` or GPIO line either way and cannot tell.
struct BoardBuilder {
    let clock: any DeviceClock

    func build(_ profile: DeviceProfile) throws -> Board {
        var buses: [String: OpenBus] = [:]
        for bus in profile.buses { buses[bus.id] = try open(bus, profile) }

        var sensors: [BoardSensor] = []
        for spec in profile.sensors {
            guard let bus = buses[spec.bus] else { throw BoardError.missing(spec.id, "bus '\(spec.bus)'") }
            let sensor = try bus.attach(spec, clock: clock)
            let channels = spec.channels.map {
                ChannelRoute(channel: $0.name, readingID: spec.readingID($0.name), unit: $0.unit, filters: FilterChain(spec.filters))
            }
            sensors.append(BoardSensor(id: spec.id, sensor: sensor, interval: spec.interval, channels: channels))
        }

        var outputs: [String: BoardOutput] = [:]
        for spec in profile.outputs {
            guard case .gpio(let chip, _)? = buses[spec.bus] else { throw BoardError.missing(spec.id, "GPIO bus") }
            let line = try chip.output(Self.lineID(spec.line), initial: spec.normal, activeLow: spec.activeLow)
            outputs[spec.id] = BoardOutput(line: line, normal: spec.normal, failSafe: spec.failSafe)
        }
        return Board(sensors: sensors, outputs: outputs)
    }

    /// The kernel's device for a bus, or a register-level simulation of it.
    func open(_ bus: BusSpec, _ profile: DeviceProfile) throws -> OpenBus {
        switch (bus.kind, bus.simulated) {
        case (.i2c, true):
            let simulated = SimulatedI2CBus(name: bus.id)
            return .i2c(simulated, simulated: simulated)
        case (.i2c, false):
            guard let number = BusSpec.i2cBusNumber(bus.device) else { throw BoardError.missing(bus.id, "I2C bus number") }
            return .i2c(try LinuxI2CBus(bus: number), simulated: nil)
        case (.w1, true):
            let simulated = try SimulatedOneWire(clock: clock)
            return .w1(simulated.bus, simulated: simulated)
        case (.w1, false):
            return .w1(SysfsOneWire(root: bus.device), simulated: nil)
        case (.gpio, true):
            // Line names in declaration order; a simulated line's offset is its index.
            let names = profile.sensors.filter { $0.bus == bus.id }.compactMap(\.line)
                + profile.outputs.filter { $0.bus == bus.id }.map(\.line)
            let chip = SimulatedGPIOChip(lineNames: names, clock: clock)
            return .gpio(chip, simulated: chip)
        case (.gpio, false):
            return .gpio(try LinuxGPIOChip(bus.device), simulated: nil)
        }
    }

    /// Each output on its chip, one at a time and requested already in its fail-safe state:
    /// for `failsafe`, where a missing chip or line must not keep the other outputs from
    /// their safe state. Returns the chips too (tests read a simulated chip's lines).
    func failSafeOutputs(_ outputs: [OutputSpec], buses: [BusSpec])
        -> (outputs: [(id: String, result: Result<BoardOutput, any Error>)], chips: [String: any GPIOChip]) {
        var chips: [String: any GPIOChip] = [:]
        var results: [(id: String, result: Result<BoardOutput, any Error>)] = []
        for spec in outputs {
            do {
                guard let bus = buses.first(where: { $0.id == spec.bus && $0.kind == .gpio }) else {
                    throw BoardError.missing(spec.id, "GPIO bus")
                }
                let chip = try chips[bus.id] ?? (bus.simulated
                    ? SimulatedGPIOChip(lineNames: outputs.filter { $0.bus == bus.id }.map(\.line), clock: clock)
                    : LinuxGPIOChip(bus.device))
                chips[bus.id] = chip
                let line = try chip.output(Self.lineID(spec.line), initial: spec.failSafe, activeLow: spec.activeLow)
                results.append((spec.id, .success(BoardOutput(line: line, normal: spec.normal, failSafe: spec.failSafe))))
            } catch {
                results.append((spec.id, .failure(error)))
            }
        }
        return (results, chips)
    }

    static func lineID(_ text: String) -> GPIOLineID {
        UInt32(text).map(GPIOLineID.offset) ?? .name(text)
    }
}

enum BoardError: Error, CustomStringConvertible {
    case missing(String, String)
    var description: String {
        switch self {
        case .missing(let sensor, let what): "\(sensor): no \(what) for it in the profile"
        }
    }
}
