import EdgeCore
import EdgeTesting
import HAL
import HALSimulation
import XCTest

final class GPIOTests: XCTestCase {
    func testFloatSwitchDebounceAndActiveLow() async throws {
        let clock = ManualDeviceClock()
        let chip = SimulatedGPIOChip(lineNames: ["GPIO0", "ATO_FLOAT"], clock: clock)
        chip.setLevel(false, offset: 1) // switch closes to ground when the float is up
        let line = try chip.input(.name("ATO_FLOAT"), bias: .pullUp, activeLow: true)
        XCTAssertEqual(chip.request(offset: 1)?.bias, .pullUp)
        let float = DigitalInput(line: line, kind: .floatSwitch, debounce: .milliseconds(50), clock: clock)
        let start = clock.now()
        do { let got = try await float.read(); XCTAssertEqual(got, [Measurement(channel: "level", value: 1, unit: "state")]) }
        XCTAssertEqual(clock.elapsed(since: start), .milliseconds(50))
        chip.setLevel(true, offset: 1)
        do { let got = try await float.read()[0].value; XCTAssertEqual(got, 0) }
    }

    func testChatteringSwitchIsUnstable() async throws {
        let clock = ManualDeviceClock()
        let chip = SimulatedGPIOChip(clock: clock)
        // Toggles every 20 ms: never stable for 50 ms.
        chip.drive(offset: 4, .level(Scenario(shape: .sine(mean: 0.5, amplitude: 1, period: .milliseconds(40)))))
        let leak = DigitalInput(line: try chip.input(.offset(4), bias: .pullDown, activeLow: false), kind: .leakSwitch, clock: clock)
        XCTAssertEqual(leak.channels, [Channel(name: "wet", unit: "state")])
        await assertThrows(SensorError.unstable("no level held 0.05 seconds within 1.0 seconds")) { _ = try await leak.read() }
    }

    /// A 3 ms glitch inside the debounce window is seen through the line's edge queue (a
    /// 10 ms sampler would have missed it): the window starts again, and the read returns
    /// the settled level one window later.
    func testAGlitchInsideTheWindowRestartsTheDebounce() async throws {
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
        XCTAssertEqual(got, [Measurement(channel: "level", value: 0, unit: "state")])
        XCTAssertEqual(clock.elapsed(since: start), .milliseconds(100))
    }

    func testUnknownLineName() {
        let chip = SimulatedGPIOChip(lineNames: ["GPIO17"], clock: ManualDeviceClock())
        XCTAssertThrowsError(try chip.input(.name("GPIO99"), bias: .asIs, activeLow: false)) {
            XCTAssertEqual($0 as? BusError, .noDevice("no GPIO line named 'GPIO99' on the simulated chip (lines: GPIO17)"))
        }
    }

    func testEdgesCarryTimestamps() async throws {
        let clock = ManualDeviceClock(bootNanos: 1_000)
        let chip = SimulatedGPIOChip(clock: clock)
        let line = try chip.input(.offset(2), bias: .asIs, activeLow: false)
        chip.setLevel(true, offset: 2)
        clock.advance(by: .milliseconds(3))
        chip.setLevel(false, offset: 2)
        let drained = try line.drainEdges()
        XCTAssertEqual(drained.edges, [GPIOEdge(rising: true, timestampNanos: 1_000), GPIOEdge(rising: false, timestampNanos: 3_001_000)])
        XCTAssertEqual(drained.dropped, 0)
        XCTAssertEqual(try line.drainEdges().edges, [])
    }

    func testOutputLine() throws {
        let chip = SimulatedGPIOChip(clock: ManualDeviceClock())
        let heater = try chip.output(.offset(5), initial: false, activeLow: false)
        XCTAssertEqual(chip.outputState(offset: 5), false)
        try heater.set(true)
        XCTAssertEqual(chip.outputState(offset: 5), true)
    }

    func testFlowMeterLitresPerMinute() async throws {
        let clock = ManualDeviceClock()
        let chip = SimulatedGPIOChip(clock: clock)
        // 45 Hz on a 450 pulses/L meter = 0.1 L/s = 6 L/min.
        chip.drive(offset: 7, .pulses(Scenario(shape: .constant(45))))
        let meter = PulseCounter(line: try chip.input(.offset(7), bias: .pullUp, activeLow: false), kFactor: 450, clock: clock)
        XCTAssertEqual(meter.channels, [Channel(name: "flow", unit: "L/min")])
        do { let got = try await meter.read(); XCTAssertEqual(got, [Measurement(channel: "flow", value: 6, unit: "L/min")]) }
        clock.advance(by: .seconds(10))
        do { let got = try await meter.read()[0].value; XCTAssertEqual(got, 6) }
        chip.drive(offset: 7, .pulses(Scenario(shape: .constant(0))))
        clock.advance(by: .seconds(2))
        do { let got = try await meter.read()[0].value; XCTAssertEqual(got, 0) }
    }

    func testFlowMeterLostEdgesAreAnError() async throws {
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

final class BusErrorTests: XCTestCase {
    func testErrnoMapping() {
        XCTAssertEqual(BusError.i2cTransfer(bus: "i2c-1", address: 0x63, errno: ENXIO), .noDevice("i2c-1 address 0x63"))
        XCTAssertEqual(BusError.i2cTransfer(bus: "i2c-1", address: 0x63, errno: 121), .noDevice("i2c-1 address 0x63"))
        XCTAssertEqual(BusError.i2cTransfer(bus: "i2c-1", address: 0x0A, errno: ETIMEDOUT), .timeout("i2c-1 address 0x0a"))
        XCTAssertEqual(BusError.i2cTransfer(bus: "i2c-1", address: 0x76, errno: EIO), .io("i2c-1 address 0x76", errno: EIO))
        XCTAssertEqual(BusError.opening("/dev/i2c-1", errno: EACCES, group: "i2c", enableHint: "x"), .permissionDenied(path: "/dev/i2c-1", group: "i2c"))
        XCTAssertEqual(BusError.opening("/dev/i2c-1", errno: ENOENT, group: "i2c", enableHint: "dtparam=i2c_arm=on"),
                       .busMissing(path: "/dev/i2c-1", hint: "dtparam=i2c_arm=on"))
        XCTAssertEqual(BusError.opening("/dev/i2c-1", errno: EBUSY, group: "i2c", enableHint: "x"), .io("open /dev/i2c-1", errno: EBUSY))
        XCTAssertEqual(BusError.permissionDenied(path: "/dev/gpiochip0", group: "gpio").description,
                       "permission denied opening /dev/gpiochip0: add the agent's user to group 'gpio' (sudo usermod -aG gpio <user>) and log in again")
    }

    #if os(Linux)
    func testMissingI2CBusSaysHowToEnableIt() {
        XCTAssertThrowsError(try LinuxI2CBus(bus: 97)) {
            XCTAssertEqual($0 as? BusError, .busMissing(path: "/dev/i2c-97",
                hint: "enable I2C with dtparam=i2c_arm=on in /boot/firmware/config.txt (or raspi-config) and reboot"))
        }
    }
    #endif

    func testScenarioShapes() {
        XCTAssertEqual(Scenario(shape: .constant(3)).value(at: .seconds(9)), 3)
        XCTAssertEqual(Scenario(shape: .sine(mean: 10, amplitude: 2, period: .seconds(4))).value(at: .seconds(1)), 12)
        XCTAssertEqual(Scenario(shape: .ramp(start: 1, perSecond: 0.5, limit: 2)).value(at: .seconds(1)), 1.5)
        XCTAssertEqual(Scenario(shape: .ramp(start: 1, perSecond: 0.5, limit: 2)).value(at: .seconds(10)), 2)
        XCTAssertEqual(Scenario(shape: .step(before: 1, after: 5, at: .seconds(3))).value(at: .milliseconds(2999)), 1)
        XCTAssertEqual(Scenario(shape: .step(before: 1, after: 5, at: .seconds(3))).value(at: .seconds(3)), 5)
        let script = Scenario(shape: .points([.init(at: .seconds(2), value: 25), .init(at: .seconds(4), value: 29),
                                              .init(at: .seconds(8), value: 26)]))
        XCTAssertEqual([0, 2, 3, 4, 6, 8, 20].map { script.value(at: .seconds($0)) }, [25, 25, 27, 29, 27.5, 26, 26])
        let drop = Scenario(shape: .constant(0), dropouts: [.init(start: .seconds(2), length: .seconds(1))])
        XCTAssertEqual([1, 2, 2.999, 3].map { drop.isDroppedOut(at: .milliseconds(Int64($0 * 1000))) }, [false, true, true, false])
    }

    func testSeededNoiseStatistics() {
        let noisy = Scenario(shape: .constant(0), noise: 2, seed: 7)
        let samples = (0..<2000).map { noisy.value(at: .milliseconds($0)) }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let sd = (samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(samples.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.15)
        XCTAssertEqual(sd, 2, accuracy: 0.15)
        XCTAssertEqual(noisy.value(at: .milliseconds(5)), noisy.value(at: .milliseconds(5)))
    }
}
