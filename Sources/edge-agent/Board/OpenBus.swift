import EdgeCore
import HAL
import HALSimulation
import Profiles

/// A bus opened for a board: what drivers use, and — on a simulated bus — the simulation
/// that plays the chips, slaves and lines the profile puts on it.
enum OpenBus {
    case i2c(any I2CBus, simulated: SimulatedI2CBus?)
    case w1(any OneWireBus, simulated: SimulatedOneWire?)
    case gpio(any GPIOChip, simulated: SimulatedGPIOChip?)

    /// Puts a sensor's driver on this bus (and its simulated chip, when the bus is simulated),
    /// as the driver registry declares.
    func attach(_ spec: SensorSpec, clock: any DeviceClock) throws -> any Sensor {
        switch (spec.driver.declaration.wiring, self) {
        case (.i2c(_, let build, let simulate), .i2c(let bus, let simulated)):
            guard let address = spec.address else { throw BoardError.missing(spec.id, "I2C address") }
            simulated?.attach(simulate(spec, clock), at: address)
            return build(bus, address, spec, clock)
        case (.oneWire(_, let build, let simulate), .w1(let bus, let simulated)):
            guard let slave = spec.slave else { throw BoardError.missing(spec.id, "1-Wire slave") }
            try simulated?.addSlave(slave, scenario: simulate(spec))
            return build(bus, slave)
        case (.gpioInput(let build, let simulate), .gpio(let chip, let simulated)):
            guard let line = spec.line else { throw BoardError.missing(spec.id, "GPIO line") }
            if let simulated, let offset = simulated.lineNames.firstIndex(of: line) {
                simulated.drive(offset: UInt32(offset), simulate(spec))
            }
            return build(try chip.input(BoardBuilder.lineID(line), bias: .pullUp, activeLow: spec.activeLow), spec, clock)
        default:
            // The loader refuses a driver on another kind of bus; a profile built by hand may not.
            throw BoardError.missing(spec.id, "\(spec.driver.bus.rawValue) bus")
        }
    }
}
