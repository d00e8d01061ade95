import EdgeCore
import HAL
import HALSimulation
import Logging

/// The drivers a profile can name; the raw value is the profile's spelling.
public enum DriverKind: String, Sendable, CaseIterable {
    case ds18b20
    case ezoPH = "ezo_ph", ezoORP = "ezo_orp", ezoEC = "ezo_ec", ezoDO = "ezo_do", ezoRTD = "ezo_rtd"
    case bme280, ads1115
    case floatSwitch = "float_switch", leakSwitch = "leak_switch", flowMeter = "flow_meter"
    case ds1822, ds18s20, max31850

    /// Everything the registry declares about this driver.
    public var declaration: Driver { DriverRegistry.driver(self) }
    public var channels: [Channel] { declaration.channels }
    public var bus: BusSpec.Kind { declaration.wiring.bus }
    public var defaultAddress: UInt8? { declaration.wiring.defaultAddress }

    /// The circuit an `ezo_` driver talks to.
    public var ezoKind: EZOKind? {
        switch self {
        case .ezoPH: .ph
        case .ezoORP: .orp
        case .ezoEC: .ec
        case .ezoDO: .dissolvedOxygen
        case .ezoRTD: .rtd
        default: nil
        }
    }

    /// Switches report a state, which only `switch:` (and `stale:`) rules read.
    public var isSwitch: Bool { self == .floatSwitch || self == .leakSwitch }

    /// Reading ids: the sensor id for single-channel drivers, `id.channel` otherwise.
    public func readingID(sensor id: String, channel: String) -> String {
        channels.count == 1 ? id : "\(id).\(channel)"
    }
}

/// One driver as the registry declares it: the channels it reports (with units, in its
/// order), and how it is wired — the bus it sits on, how it is built there, and how a
/// simulated bus plays its chip. The profile loader validates against this; the board
/// builder only follows it.
public struct Driver: Sendable {
    public let channels: [Channel]
    public let wiring: Wiring
    /// How the chip is captured for replay (`capture:` in a profile), nil when it cannot be.
    public let capture: CaptureFormat?

    public init(channels: [Channel], wiring: Wiring, capture: CaptureFormat? = nil) {
        self.channels = channels
        self.wiring = wiring
        self.capture = capture
    }

    /// How a driver sits on its bus. Each case carries the bus kind's own inputs, so a driver
    /// can only ever be built on the bus it declares.
    public enum Wiring: Sendable {
        /// A chip at an I2C address (`defaultAddress` when the profile gives none): `build`
        /// puts the driver on the bus; `simulate` is the chip a simulated bus answers with.
        case i2c(defaultAddress: UInt8,
                 build: @Sendable (any I2CBus, _ address: UInt8, SensorSpec, any DeviceClock) -> any Sensor,
                 simulate: @Sendable (SensorSpec, any DeviceClock) -> any SimulatedI2CDevice)
        /// A slave of one family on a 1-Wire bus (its id must start with the family code):
        /// `simulate` is the value the simulated slave reports.
        case oneWire(family: OneWireFamily,
                     build: @Sendable (any OneWireBus, _ slave: String) -> any Sensor,
                     simulate: @Sendable (SensorSpec) -> Scenario)
        /// An input line (requested with a pull-up and the spec's polarity): `simulate` is
        /// how a simulated chip drives it.
        case gpioInput(build: @Sendable (any GPIOInputLine, SensorSpec, any DeviceClock) -> any Sensor,
                       simulate: @Sendable (SensorSpec) -> SimulatedGPIOChip.Drive)

        public var bus: BusSpec.Kind {
            switch self {
            case .i2c: .i2c
            case .oneWire: .w1
            case .gpioInput: .gpio
            }
        }

        /// The 1-Wire family a slave must belong to, for 1-Wire drivers.
        public var family: OneWireFamily? {
            if case .oneWire(let family, _, _) = self { family } else { nil }
        }

        public var defaultAddress: UInt8? {
            if case .i2c(let address, _, _) = self { address } else { nil }
        }
    }
}

/// The one table of drivers. A new driver is one case in `DriverKind` and one entry here.
public enum DriverRegistry {
    public static func driver(_ kind: DriverKind) -> Driver {
        switch kind {
        case .ds18b20: thermometer(.ds18b20)
        case .ds1822: thermometer(.ds1822)
        case .ds18s20: thermometer(.ds18s20)
        case .max31850: thermometer(.max31850)
        case .ezoPH: ezo(.ph, simulated: 8.1)
        case .ezoORP: ezo(.orp, simulated: 380)
        case .ezoEC: ezo(.ec, simulated: 53_087)
        case .ezoDO: ezo(.dissolvedOxygen, simulated: 6.5)
        case .ezoRTD: ezo(.rtd, simulated: 25.5)
        case .bme280:
            Driver(channels: BME280<SimulatedI2CBus>.channels, wiring: .i2c(
                defaultAddress: BME280<SimulatedI2CBus>.defaultAddress,
                build: { bus, address, spec, clock in shared(bme280(bus, address: address, clock: clock), bus, spec, clock) },
                simulate: { spec, clock in
                    if case .registerBytes(let image)? = spec.capture { return ReplayedBME280(image: image, clock: clock) }
                    return SimulatedBME280(temperature: scenario(spec, "temperature", default: 22),
                                           pressure: scenario(spec, "pressure", default: 1013.25),
                                           humidity: scenario(spec, "humidity", default: 50), clock: clock)
                }), capture: .byteDump)
        case .ads1115:
            Driver(channels: ADS1115<SimulatedI2CBus>.channels, wiring: .i2c(
                defaultAddress: ADS1115<SimulatedI2CBus>.defaultAddress,
                build: { bus, address, spec, clock in
                    shared(ads1115(bus, address: address, input: ADS1115Input.singleEnded[spec.adcInput],
                                   fullScale: .nearest(volts: spec.fullScale), clock: clock), bus, spec, clock)
                },
                simulate: { spec, clock in
                    if case .registerWords(let words)? = spec.capture, let replayed = try? SimulatedADS1115(replaying: words, clock: clock) {
                        return replayed
                    }
                    var inputs = Array(repeating: Scenario(shape: .constant(0)), count: 4)
                    inputs[spec.adcInput] = scenario(spec, "voltage", default: 1.0)
                    return SimulatedADS1115(inputs: inputs, clock: clock)
                }), capture: .wordCapture(required: [0, 1]))
        case .floatSwitch: digitalInput(.floatSwitch, simulated: 1)
        case .leakSwitch: digitalInput(.leakSwitch, simulated: 0)
        case .flowMeter:
            Driver(channels: PulseCounter.channels, wiring: .gpioInput(
                build: { line, spec, clock in PulseCounter(line: line, kFactor: spec.kFactor, clock: clock) },
                // The meter's pulse rate: L/min × pulses per litre / 60 s.
                simulate: { spec in .pulses(scenario(spec, "flow", default: 12).mapped(scale: spec.kFactor / 60)) }))
        }
    }

    private static func thermometer(_ family: OneWireFamily) -> Driver {
        Driver(channels: OneWireThermometer<SysfsOneWire>.channels, wiring: .oneWire(
            family: family,
            build: { bus, slave in thermometer(bus, slave: slave) },
            simulate: { scenario($0, "temperature", default: 25) }))
    }

    private static func ezo(_ kind: EZOKind, simulated value: Double) -> Driver {
        Driver(channels: kind.channels, wiring: .i2c(
            defaultAddress: kind.defaultAddress,
            build: { bus, address, spec, clock in
                shared(ezo(bus, address: address, kind: kind, sensor: spec.id, clock: clock), bus, spec, clock)
            },
            simulate: { spec, clock in
                if case .ezoTranscript(let transcript)? = spec.capture { return SimulatedEZO(kind: kind, replaying: transcript, clock: clock) }
                let circuit = SimulatedEZO(kind: kind, scenario: scenario(spec, kind.channels[0].name, default: value), clock: clock)
                if let outputs = spec.simulatedOutputs { circuit.setOutputs(outputs) }
                return circuit
            }), capture: .ezoTranscript)
    }

    private static func digitalInput(_ kind: DigitalInput.Kind, simulated value: Double) -> Driver {
        Driver(channels: kind.channels, wiring: .gpioInput(
            build: { line, spec, clock in DigitalInput(line: line, kind: kind, debounce: spec.debounce, clock: clock) },
            simulate: { spec in
                let level = scenario(spec, kind.channels[0].name, default: value)
                // An active-low switch reads its physical level inverted.
                return .level(spec.activeLow ? level.mapped(offset: 1, scale: -1) : level)
            }))
    }

    /// The profile's scenario for a channel, or a constant at a plausible value.
    private static func scenario(_ spec: SensorSpec, _ channel: String, default value: Double) -> Scenario {
        spec.simulation[channel] ?? Scenario(shape: .constant(value))
    }

    /// An I2C sensor as the daemon reads it: under its bus's lock on hardware (a simulated bus
    /// belongs to one process), and not while `edge-agent calibrate` has it paused.
    private static func shared(_ sensor: any Sensor, _ bus: any I2CBus, _ spec: SensorSpec, _ clock: any DeviceClock) -> any Sensor {
        SharedBusSensor(sensor: sensor, lock: bus is SimulatedI2CBus ? nil : BusLock(bus: spec.bus), pause: SensorPause(sensor: spec.id), clock: clock)
    }

    // Drivers are generic over their bus; these open the existential bus for them.
    private static func thermometer<B: OneWireBus>(_ bus: B, slave: String) -> any Sensor { OneWireThermometer(bus: bus, slave: slave) }
    private static func ezo<B: I2CBus>(_ bus: B, address: UInt8, kind: EZOKind, sensor: String, clock: any DeviceClock) -> any Sensor {
        var logger = Logger(label: "edge-agent.hal")
        logger[metadataKey: "sensor"] = "\(sensor)"
        return EZOCircuit(bus: bus, address: address, kind: kind, clock: clock, logger: logger)
    }
    private static func bme280<B: I2CBus>(_ bus: B, address: UInt8, clock: any DeviceClock) -> any Sensor {
        BME280(bus: bus, address: address, clock: clock)
    }
    private static func ads1115<B: I2CBus>(_ bus: B, address: UInt8, input: ADS1115Input, fullScale: ADS1115FullScale,
                                           clock: any DeviceClock) -> any Sensor {
        ADS1115(bus: bus, address: address, input: input, fullScale: fullScale, clock: clock)
    }
}
