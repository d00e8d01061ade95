import EdgeCore
import HAL
import HALSimulation
import Profiles

/// Turns a profile into drivers on buses. The one place that knows a bus may be simulated:
/// drivers get an `I2CBus`, `OneWireBus` or GPIO line either way and cannot tell.
struct BoardBuilder {
    let clock: any DeviceClock

    func build(_ profile: DeviceProfile) throws -> Board {
        var i2c: [String: any I2CBus] = [:]
        var simulatedI2C: [String: SimulatedI2CBus] = [:]
        var w1: [String: any OneWireBus] = [:]
        var simulatedW1: [String: SimulatedOneWire] = [:]
        var gpio: [String: any GPIOChip] = [:]
        var simulatedGPIO: [String: (chip: SimulatedGPIOChip, names: [String])] = [:]

        for bus in profile.buses {
            switch (bus.kind, bus.simulated) {
            case (.i2c, true):
                let sim = SimulatedI2CBus(name: bus.id)
                simulatedI2C[bus.id] = sim
                i2c[bus.id] = sim
            case (.i2c, false):
                let number = Int(bus.device.split(separator: "-").last ?? Substring(bus.device)) ?? 1
                i2c[bus.id] = try LinuxI2CBus(bus: number)
            case (.w1, true):
                let sim = try SimulatedOneWire(clock: clock)
                simulatedW1[bus.id] = sim
                w1[bus.id] = sim.bus
            case (.w1, false):
                w1[bus.id] = SysfsOneWire(root: bus.device)
            case (.gpio, true):
                // Line names in declaration order; a simulated line's offset is its index.
                let names = profile.sensors.filter { $0.bus == bus.id }.compactMap(\.line)
                    + profile.outputs.filter { $0.bus == bus.id }.map(\.line)
                let chip = SimulatedGPIOChip(lineNames: names, clock: clock)
                simulatedGPIO[bus.id] = (chip, names)
                gpio[bus.id] = chip
            case (.gpio, false):
                gpio[bus.id] = try LinuxGPIOChip(bus.device)
            }
        }

        var sensors: [BoardSensor] = []
        for spec in profile.sensors {
            let sensor: any Sensor
            switch spec.driver {
            case .ds18b20:
                guard let bus = w1[spec.bus], let slave = spec.slave else { throw BoardError.missing(spec.id, "1-Wire bus or slave") }
                if let sim = simulatedW1[spec.bus] { try sim.addSlave(slave, scenario: scenario(spec, "temperature", default: 25)) }
                sensor = Self.ds18b20(bus, slave: slave)
            case .ezo_ph, .ezo_orp, .ezo_ec, .ezo_do, .ezo_rtd:
                guard let bus = i2c[spec.bus] else { throw BoardError.missing(spec.id, "I2C bus") }
                let kind: EZOKind = switch spec.driver {
                case .ezo_ph: .ph
                case .ezo_orp: .orp
                case .ezo_ec: .ec
                case .ezo_do: .dissolvedOxygen
                default: .rtd
                }
                let address = spec.address ?? kind.defaultAddress
                if let sim = simulatedI2C[spec.bus] {
                    let channel = spec.driver.channels[0].name
                    let fallback: Double = switch kind {
                    case .ph: 8.1
                    case .orp: 380
                    case .ec: 53_087
                    case .dissolvedOxygen: 6.5
                    case .rtd: 25.5
                    }
                    sim.attach(SimulatedEZO(kind: kind, scenario: scenario(spec, channel, default: fallback), clock: clock), at: address)
                }
                sensor = Self.ezo(bus, address: address, kind: kind, clock: clock)
            case .bme280:
                guard let bus = i2c[spec.bus] else { throw BoardError.missing(spec.id, "I2C bus") }
                let address = spec.address ?? 0x76
                if let sim = simulatedI2C[spec.bus] {
                    sim.attach(SimulatedBME280(temperature: scenario(spec, "temperature", default: 22),
                                               pressure: scenario(spec, "pressure", default: 1013.25),
                                               humidity: scenario(spec, "humidity", default: 50), clock: clock), at: address)
                }
                sensor = Self.bme280(bus, address: address, clock: clock)
            case .ads1115:
                guard let bus = i2c[spec.bus] else { throw BoardError.missing(spec.id, "I2C bus") }
                let address = spec.address ?? 0x48
                if let sim = simulatedI2C[spec.bus] {
                    var inputs = Array(repeating: Scenario(shape: .constant(0)), count: 4)
                    inputs[spec.adcInput] = scenario(spec, "voltage", default: 1.0)
                    sim.attach(SimulatedADS1115(inputs: inputs, clock: clock), at: address)
                }
                let input: ADS1115Input = [.ain0, .ain1, .ain2, .ain3][spec.adcInput]
                let scales: [(Double, ADS1115FullScale)] = [(6.144, .v6_144), (4.096, .v4_096), (2.048, .v2_048),
                                                             (1.024, .v1_024), (0.512, .v0_512), (0.256, .v0_256)]
                let fullScale = scales.min { abs($0.0 - spec.fullScale) < abs($1.0 - spec.fullScale) }!.1
                sensor = Self.ads1115(bus, address: address, input: input, fullScale: fullScale, clock: clock)
            case .float_switch, .leak_switch, .flow_meter:
                guard let chip = gpio[spec.bus], let lineName = spec.line else { throw BoardError.missing(spec.id, "GPIO bus or line") }
                let id = Self.lineID(lineName)
                if let sim = simulatedGPIO[spec.bus], let offset = sim.names.firstIndex(of: lineName) {
                    if spec.driver == .flow_meter {
                        // The meter's pulse rate: L/min × pulses per litre / 60 s.
                        sim.chip.drive(offset: UInt32(offset), .pulses(scenario(spec, "flow", default: 12, scale: spec.kFactor / 60)))
                    } else {
                        let channel = spec.driver == .float_switch ? "level" : "wet"
                        var level = scenario(spec, channel, default: spec.driver == .float_switch ? 1 : 0)
                        // An active-low switch reads its physical level inverted.
                        if spec.activeLow { level = level.mapped(offset: 1, scale: -1) }
                        sim.chip.drive(offset: UInt32(offset), .level(level))
                    }
                }
                let line = try chip.input(id, bias: .pullUp, activeLow: spec.activeLow)
                if spec.driver == .flow_meter {
                    sensor = PulseCounter(line: line, kFactor: spec.kFactor, clock: clock)
                } else {
                    sensor = DigitalInput(line: line, kind: spec.driver == .float_switch ? .floatSwitch : .leakSwitch,
                                          debounce: spec.debounce, clock: clock)
                }
            }
            let channels = spec.channels.map {
                ChannelRoute(channel: $0.name, readingID: spec.readingID($0.name), unit: $0.unit, filters: FilterChain(spec.filters))
            }
            sensors.append(BoardSensor(id: spec.id, sensor: sensor, interval: spec.interval, channels: channels))
        }

        var outputs: [String: BoardOutput] = [:]
        for spec in profile.outputs {
            guard let chip = gpio[spec.bus] else { throw BoardError.missing(spec.id, "GPIO bus") }
            let line = try chip.output(Self.lineID(spec.line), initial: spec.normal, activeLow: spec.activeLow)
            outputs[spec.id] = BoardOutput(line: line, normal: spec.normal, failSafe: spec.failSafe)
        }
        return Board(sensors: sensors, outputs: outputs)
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

    // Drivers are generic over their bus; these open the existential bus for them.
    private static func ds18b20<B: OneWireBus>(_ bus: B, slave: String) -> any Sensor { DS18B20(bus: bus, slave: slave) }
    private static func ezo<B: I2CBus>(_ bus: B, address: UInt8, kind: EZOKind, clock: any DeviceClock) -> any Sensor {
        EZOCircuit(bus: bus, address: address, kind: kind, clock: clock)
    }
    private static func bme280<B: I2CBus>(_ bus: B, address: UInt8, clock: any DeviceClock) -> any Sensor {
        BME280(bus: bus, address: address, clock: clock)
    }
    private static func ads1115<B: I2CBus>(_ bus: B, address: UInt8, input: ADS1115Input, fullScale: ADS1115FullScale,
                                           clock: any DeviceClock) -> any Sensor {
        ADS1115(bus: bus, address: address, input: .init(rawValue: input.rawValue)!,
                fullScale: .init(rawValue: fullScale.rawValue)!, clock: clock)
    }

    static func lineID(_ text: String) -> GPIOLineID {
        UInt32(text).map(GPIOLineID.offset) ?? .name(text)
    }

    private func scenario(_ spec: SensorSpec, _ channel: String, default fallback: Double, scale: Double = 1) -> Scenario {
        (spec.simulation[channel] ?? Scenario(shape: .constant(fallback))).mapped(scale: scale)
    }
}

typealias ADS1115Input = ADS1115<SimulatedI2CBus>.Input
typealias ADS1115FullScale = ADS1115<SimulatedI2CBus>.FullScale

enum BoardError: Error, CustomStringConvertible {
    case missing(String, String)
    var description: String {
        switch self {
        case .missing(let sensor, let what): "\(sensor): no \(what) for it in the profile"
        }
    }
}
