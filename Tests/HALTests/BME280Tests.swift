import EdgeCore
import Foundation
import EdgeTesting
import HAL
import HALSimulation
import Testing

/// Expected numbers come from an independent Python transcription of the datasheet's
/// integer code (run once; values pasted here), not from this package's Swift.
@Suite struct BME280Tests {
    static let datasheetCalibration = BME280Calibration(
        t1: 27504, t2: 26435, t3: -1000,
        p1: 36477, p2: -10685, p3: 3024, p4: 2855, p5: 140, p6: -7, p7: 15500, p8: -14600, p9: 6000,
        h1: 75, h2: 362, h3: 0, h4: 313, h5: 0, h6: 30)

    @Test func datasheetExampleRawValues() throws {
        let cal = Self.datasheetCalibration
        let (tFine, centi) = cal.compensateTemperature(519888)
        #expect(tFine == 128422)
        #expect(centi == 2508)
        #expect(cal.compensatePressure(415148, tFine: tFine) == 25767233)
        #expect(cal.compensateHumidity(30000, tFine: tFine) == 57217)
    }

    @Test func belowZeroRawValues() throws {
        let cal = Self.datasheetCalibration
        let (tFine, centi) = cal.compensateTemperature(400000)
        #expect(tFine == -64736)
        #expect(centi == -1264)
        #expect(cal.compensatePressure(300000, tFine: tFine) == 29090514)
        #expect(cal.compensateHumidity(25000, tFine: tFine) == 26225)
    }

    /// Negative H4/H5 and an H3 above 127: the decodings popular libraries get wrong.
    @Test func calibrationDecodesSignedH4H5AndUnsignedH3() throws {
        var block1 = [UInt8](repeating: 0, count: 26)
        block1[25] = 75
        let cal = BME280Calibration(block1: block1, block2: [0x6A, 0x01, 0xC8, 0xF3, 0x2A, 0xFD, 0x1E])
        #expect(cal.h1 == 75)
        #expect(cal.h2 == 362)
        #expect(cal.h3 == 200)
        #expect(cal.h4 == -198)
        #expect(cal.h5 == -46)
        #expect(cal.h6 == 30)
        var full = Self.datasheetCalibration
        (full.h2, full.h3, full.h4, full.h5, full.h6) = (cal.h2, cal.h3, cal.h4, cal.h5, cal.h6)
        #expect(full.compensateHumidity(2000, tFine: 128422) == 84999)
    }

    @Test func resetValuesAreNoData() throws {
        let error = #expect(throws: SensorError.self) {
            try BME280<SimulatedI2CBus>.decode([0x80, 0, 0, 0x80, 0, 0, 0x80, 0], calibration: Self.datasheetCalibration)
        }
        if case .noData = error {} else { Issue.record("\(String(describing: error))") }
    }

    @Test func driverReadsSimulatedChipWithinStatedTolerance() async throws {
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus()
        bus.attach(SimulatedBME280(
            temperature: Scenario(shape: .constant(24.37)), pressure: Scenario(shape: .constant(1013.25)),
            humidity: Scenario(shape: .constant(61.2)), clock: clock), at: 0x76)
        let sensor = BME280(bus: bus, clock: clock)
        let values = try await sensor.read()
        #expect(values.map(\.channel) == ["temperature", "pressure", "humidity"])
        #expect(values.map(\.unit) == ["°C", "hPa", "%RH"])
        #expect(abs((values[0].value) - (24.37)) <= 0.005)
        #expect(abs((values[1].value) - (1013.25)) <= 0.002)
        #expect(abs((values[2].value) - (61.2)) <= 0.002)
    }

    @Test func wrongChipIDIsNoDevice() async throws {
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus()
        var dump = BME280Fixtures.i2cdump
        dump = dump.replacingOccurrences(of: "d0: 60", with: "d0: 58")
        bus.attach(try RegisterDumpDevice(i2cdump: dump), at: 0x76)
        do {
            _ = try await BME280(bus: bus, clock: clock).read()
            Issue.record("read a BMP280 as a BME280")
        } catch SensorError.noDevice(let message) {
            #expect(message.contains("0x58 is a BMP280"), "\(message)")
        }
    }

    @Test func busFaultsReachTheCaller() async throws {
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus(name: "i2c-1")
        bus.attach(SimulatedBME280(temperature: Scenario(shape: .constant(20)), pressure: Scenario(shape: .constant(1000)),
                                   humidity: Scenario(shape: .constant(50)), clock: clock), at: 0x76)
        let sensor = BME280(bus: bus, clock: clock)
        bus.setFault(.absent, at: 0x76)
        await assertThrows(SensorError.busError(.noDevice("i2c-1 address 0x76"))) { _ = try await sensor.read() }
        bus.setFault(.timeout, at: 0x76)
        await assertThrows(SensorError.busError(.timeout("i2c-1 address 0x76"))) { _ = try await sensor.read() }
        bus.setFault(.nak, at: 0x76)
        await assertThrows(SensorError.busError(.io("i2c-1 address 0x76", errno: 5))) { _ = try await sensor.read() }
        bus.setFault(.corruptBytes(xor: 0x01), at: 0x76)
        await assertThrows(SensorError.noDevice("chip id 0x61 at 0x76 is not a BME280 (0x60)")) { _ = try await sensor.read() }
    }

    @Test func dropoutSilencesTheChip() async throws {
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus(name: "i2c-1")
        let dropout = Scenario.Dropout(start: .seconds(10), length: .seconds(5))
        bus.attach(SimulatedBME280(temperature: Scenario(shape: .constant(20), dropouts: [dropout]),
                                   pressure: Scenario(shape: .constant(1000)), humidity: Scenario(shape: .constant(50)), clock: clock), at: 0x77)
        let sensor = BME280(bus: bus, address: 0x77, clock: clock)
        _ = try await sensor.read()
        clock.advance(by: .seconds(11))
        await assertThrows(SensorError.busError(.noDevice("i2c-1 address 0x77"))) { _ = try await sensor.read() }
        clock.advance(by: .seconds(5))
        let back = try await sensor.read()
        #expect(abs((back[0].value) - (20)) <= 0.005)
    }

    /// A real chip's register dump replayed through the production driver.
    @Test func replayOfI2CDump() async throws {
        let bus = SimulatedI2CBus()
        bus.attach(try RegisterDumpDevice(i2cdump: BME280Fixtures.i2cdump), at: 0x76)
        let values = try await BME280(bus: bus, clock: ManualDeviceClock()).read()
        #expect(values[0].value == 25.08)
        #expect(values[1].value == 1006.5325390625)
        #expect(values[2].value == 55.8759765625)
    }

    @Test func i2cDumpParsing() throws {
        let device = try RegisterDumpDevice(i2cdump: BME280Fixtures.i2cdump)
        try device.receive([0x88])
        #expect(try device.transmit(count: 4) == [0x70, 0x6B, 0x43, 0x67])
        try device.receive([0xD0])
        #expect(try device.transmit(count: 1) == [0x60])
        #expect(throws: BusError.io("register 209", errno: 5)) { try device.transmit(count: 1) }
        #expect(throws: RegisterDumpDevice.ParseError.noRows) { try RegisterDumpDevice(i2cdump: "hello") }
        #expect(throws: RegisterDumpDevice.ParseError.badRow(line: 1, text: "00: 12 34 zz")) { try RegisterDumpDevice(i2cdump: "00: 12 34 zz") }
    }
}

enum BME280Fixtures {
    /// `i2cdump -y 1 0x76 b` format: datasheet calibration, adc_P 415148, adc_T 519888, adc_H 30000.
    static let i2cdump = """
         0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f    0123456789abcdef
    00: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff    ................
    10: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff    ................
    20: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff    ................
    30: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff    ................
    40: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff    ................
    50: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff    ................
    60: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff    ................
    70: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff    ................
    80: ff ff ff ff ff ff ff ff 70 6b 43 67 18 fc 7d 8e    ........pkCg..}.
    90: 43 d6 d0 0b 27 0b 8c 00 f9 ff 8c 3c f8 c6 70 17    C...'......<..p.
    a0: 00 4b ff ff ff ff ff ff ff ff ff ff ff ff ff ff    .K..............
    b0: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff    ................
    c0: ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff    ................
    d0: 60 XX XX XX XX XX XX XX XX XX XX XX XX XX XX XX    `XXXXXXXXXXXXXXX
    e0: 00 6a 01 00 13 09 00 1e ff ff ff ff ff ff ff ff    .j..............
    f0: ff ff 01 00 24 00 ff 65 5a c0 7e ed 00 75 30 ff    ....$..eZ.~..u0.
    """
}

func assertThrows<E: Error & Equatable>(
    _ expected: E, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async {
    await #expect(throws: expected, sourceLocation: sourceLocation) { try await body() }
}

/// The NVM copy after a soft reset: polled only until im_update clears, an error if it never does.
@Suite struct BME280StartupTests {
    @Test func statusPollStopsWhenTheNVMCopyEnds() async throws {
        let clock = ManualDeviceClock()
        let chip = SimulatedBME280(temperature: Scenario(shape: .constant(22)), pressure: Scenario(shape: .constant(1013.25)),
                                   humidity: Scenario(shape: .constant(50)), clock: clock)
        let bus = CountingBus(SimulatedI2CBus())
        bus.inner.attach(chip, at: 0x76)
        _ = try await BME280(bus: bus, clock: clock).calibration()
        #expect(bus.statusReads == 1, "the datasheet's 2 ms start-up has passed when the driver first looks")

        chip.setNVMCopyStuck(true)
        bus.statusReads = 0
        let start = clock.now()
        await #expect(throws: SensorError.stillProcessing(command: "soft reset (status im_update never cleared)", attempts: 5)) {
            _ = try await BME280(bus: bus, clock: clock).read()
        }
        #expect(bus.statusReads == 5)
        #expect(clock.elapsed(since: start) == .milliseconds(2 + 4))
    }

    /// Counts reads of the status register (0xF3) on the way to a simulated bus.
    final class CountingBus: I2CBus, @unchecked Sendable {
        let inner: SimulatedI2CBus
        var statusReads = 0
        init(_ inner: SimulatedI2CBus) { self.inner = inner }
        func write(_ bytes: [UInt8], to address: UInt8) throws { try inner.write(bytes, to: address) }
        func read(count: Int, from address: UInt8) throws -> [UInt8] { try inner.read(count: count, from: address) }
        func writeRead(_ bytes: [UInt8], readCount: Int, at address: UInt8) throws -> [UInt8] {
            if bytes == [0xF3] { statusReads += 1 }
            return try inner.writeRead(bytes, readCount: readCount, at: address)
        }
    }
}
