import EdgeCore
import Foundation
import EdgeTesting
import HAL
import HALSimulation
import Testing

@Suite struct GPIOTests {
    @Test func floatSwitchDebounceAndActiveLow() async throws {
        let clock = ManualDeviceClock()
        let chip = SimulatedGPIOChip(lineNames: ["GPIO0", "ATO_FLOAT"], clock: clock)
        chip.setLevel(false, offset: 1) // switch closes to ground when the float is up
        let line = try chip.input(.name("ATO_FLOAT"), bias: .pullUp, activeLow: true)
        #expect(chip.request(offset: 1)?.bias == .pullUp)
        let float = DigitalInput(line: line, kind: .floatSwitch, debounce: .milliseconds(50), clock: clock)
        let start = clock.now()
        do { let got = try await float.read(); #expect(got == [Measurement(channel: "level", value: 1, unit: "state")]) }
        #expect(clock.elapsed(since: start) == .milliseconds(50))
        chip.setLevel(true, offset: 1)
        do { let got = try await float.read()[0].value; #expect(got == 0) }
    }

    @Test func chatteringSwitchIsUnstable() async throws {
        let clock = ManualDeviceClock()
        let chip = SimulatedGPIOChip(clock: clock)
        // Toggles every 20 ms: never stable for 50 ms.
        chip.drive(offset: 4, .level(Scenario(shape: .sine(mean: 0.5, amplitude: 1, period: .milliseconds(40)))))
        let leak = DigitalInput(line: try chip.input(.offset(4), bias: .pullDown, activeLow: false), kind: .leakSwitch, clock: clock)
        #expect(leak.channels == [Channel(name: "wet", unit: "state")])
        await assertThrows(SensorError.unstable("no level held 0.05 seconds within 1.0 seconds")) { _ = try await leak.read() }
    }

    /// A 3 ms glitch inside the debounce window is seen through the line's edge queue (a
    /// 10 ms sampler would have missed it): the window starts again, and the read returns
    /// the settled level one window later.
    @Test func aGlitchInsideTheWindowRestartsTheDebounce() async throws {
        let clock = ManualDeviceClock()
        let chip = SimulatedGPIOChip(clock: clock)
        chip.drive(offset: 3, .level(Scenario(shape: .points([
            .init(at: .zero, value: 0), .init(at: .milliseconds(21), value: 0), .init(at: .milliseconds(22), value: 1),
            .init(at: .milliseconds(24), value: 1), .init(at: .milliseconds(25), value: 0),
        ]))))
        let float = DigitalInput(line: try chip.input(.offset(3), bias: .asIs, activeLow: false), kind: .floatSwitch,
                                 debounce: .milliseconds(50), clock: clock)
        let start = clock.now()
        let got = try await float.read()
        #expect(got == [Measurement(channel: "level", value: 0, unit: "state")])
        #expect(clock.elapsed(since: start) == .milliseconds(100))
    }

    @Test func unknownLineName() throws {
        let chip = SimulatedGPIOChip(lineNames: ["GPIO17"], clock: ManualDeviceClock())
        #expect(throws: BusError.noDevice("no GPIO line named 'GPIO99' on the simulated chip (lines: GPIO17)")) { try chip.input(.name("GPIO99"), bias: .asIs, activeLow: false) }
    }

    @Test func edgesCarryTimestamps() async throws {
        let clock = ManualDeviceClock(bootNanos: 1_000)
        let chip = SimulatedGPIOChip(clock: clock)
        let line = try chip.input(.offset(2), bias: .asIs, activeLow: false)
        chip.setLevel(true, offset: 2)
        clock.advance(by: .milliseconds(3))
        chip.setLevel(false, offset: 2)
        let drained = try line.drainEdges()
        #expect(drained.edges == [GPIOEdge(rising: true, timestampNanos: 1_000), GPIOEdge(rising: false, timestampNanos: 3_001_000)])
        #expect(drained.dropped == 0)
        #expect(try line.drainEdges().edges == [])
    }

    @Test func outputLine() throws {
        let chip = SimulatedGPIOChip(clock: ManualDeviceClock())
        let heater = try chip.output(.offset(5), initial: false, activeLow: false)
        #expect(chip.outputState(offset: 5) == false)
        try heater.set(true)
        #expect(chip.outputState(offset: 5) == true)
    }

    @Test func flowMeterLitresPerMinute() async throws {
        let clock = ManualDeviceClock()
        let chip = SimulatedGPIOChip(clock: clock)
        // 45 Hz on a 450 pulses/L meter = 0.1 L/s = 6 L/min.
        chip.drive(offset: 7, .pulses(Scenario(shape: .constant(45))))
        let meter = PulseCounter(line: try chip.input(.offset(7), bias: .pullUp, activeLow: false), kFactor: 450, clock: clock)
        #expect(meter.channels == [Channel(name: "flow", unit: "L/min")])
        do { let got = try await meter.read(); #expect(got == [Measurement(channel: "flow", value: 6, unit: "L/min")]) }
        clock.advance(by: .seconds(10))
        do { let got = try await meter.read()[0].value; #expect(got == 6) }
        chip.drive(offset: 7, .pulses(Scenario(shape: .constant(0))))
        clock.advance(by: .seconds(2))
        do { let got = try await meter.read()[0].value; #expect(got == 0) }
    }

    @Test func flowMeterLostEdgesAreAnError() async throws {
        let clock = ManualDeviceClock()
        let chip = SimulatedGPIOChip(clock: clock)
        let meter = PulseCounter(line: try chip.input(.offset(7), bias: .pullUp, activeLow: false), kFactor: 450, clock: clock)
        _ = try await meter.read()
        chip.drive(offset: 7, .pulses(Scenario(shape: .constant(600))))
        clock.advance(by: .seconds(1))
        // 600 cycles = 1200 edges; the queue holds 1024.
        await assertThrows(SensorError.noData("176 edges were lost: the pulse rate exceeds what the line can queue")) { _ = try await meter.read() }
    }
}

@Suite struct BusErrorTests {
    @Test func errnoMapping() throws {
        #expect(BusError.i2cTransfer(bus: "i2c-1", address: 0x63, errno: ENXIO) == .noDevice("i2c-1 address 0x63"))
        #expect(BusError.i2cTransfer(bus: "i2c-1", address: 0x63, errno: 121) == .noDevice("i2c-1 address 0x63"))
        #expect(BusError.i2cTransfer(bus: "i2c-1", address: 0x0A, errno: ETIMEDOUT) == .timeout("i2c-1 address 0x0a"))
        #expect(BusError.i2cTransfer(bus: "i2c-1", address: 0x76, errno: EIO) == .io("i2c-1 address 0x76", errno: EIO))
        #expect(BusError.opening("/dev/i2c-1", errno: EACCES, group: "i2c", enableHint: "x") == .permissionDenied(path: "/dev/i2c-1", group: "i2c"))
        #expect(BusError.opening("/dev/i2c-1", errno: ENOENT, group: "i2c", enableHint: "dtparam=i2c_arm=on") == .busMissing(path: "/dev/i2c-1", hint: "dtparam=i2c_arm=on"))
        #expect(BusError.opening("/dev/i2c-1", errno: EBUSY, group: "i2c", enableHint: "x") == .io("open /dev/i2c-1", errno: EBUSY))
        #expect(BusError.permissionDenied(path: "/dev/gpiochip0", group: "gpio").description == "permission denied opening /dev/gpiochip0: add the agent's user to group 'gpio' (sudo usermod -aG gpio <user>) and log in again")
    }

    #if os(Linux)
    @Test func missingI2CBusSaysHowToEnableIt() throws {
        #expect(throws: BusError.busMissing(path: "/dev/i2c-97",
                hint: "enable I2C with dtparam=i2c_arm=on in /boot/firmware/config.txt (or raspi-config) and reboot")) { try LinuxI2CBus(bus: 97) }
    }
    #endif

    @Test func scenarioShapes() throws {
        #expect(Scenario(shape: .constant(3)).value(at: .seconds(9)) == 3)
        #expect(Scenario(shape: .sine(mean: 10, amplitude: 2, period: .seconds(4))).value(at: .seconds(1)) == 12)
        #expect(Scenario(shape: .ramp(start: 1, perSecond: 0.5, limit: 2)).value(at: .seconds(1)) == 1.5)
        #expect(Scenario(shape: .ramp(start: 1, perSecond: 0.5, limit: 2)).value(at: .seconds(10)) == 2)
        #expect(Scenario(shape: .step(before: 1, after: 5, at: .seconds(3))).value(at: .milliseconds(2999)) == 1)
        #expect(Scenario(shape: .step(before: 1, after: 5, at: .seconds(3))).value(at: .seconds(3)) == 5)
        let script = Scenario(shape: .points([.init(at: .seconds(2), value: 25), .init(at: .seconds(4), value: 29),
                                              .init(at: .seconds(8), value: 26)]))
        #expect([0, 2, 3, 4, 6, 8, 20].map { script.value(at: .seconds($0)) } == [25, 25, 27, 29, 27.5, 26, 26])
        let drop = Scenario(shape: .constant(0), dropouts: [.init(start: .seconds(2), length: .seconds(1))])
        #expect([1, 2, 2.999, 3].map { drop.isDroppedOut(at: .milliseconds(Int64($0 * 1000))) } == [false, true, true, false])
    }

    @Test func seededNoiseStatistics() throws {
        let noisy = Scenario(shape: .constant(0), noise: 2, seed: 7)
        let samples = (0..<2000).map { noisy.value(at: .milliseconds($0)) }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let sd = (samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(samples.count)).squareRoot()
        #expect(abs((mean) - (0)) <= 0.15)
        #expect(abs((sd) - (2)) <= 0.15)
        #expect(noisy.value(at: .milliseconds(5)) == noisy.value(at: .milliseconds(5)))
    }
}
