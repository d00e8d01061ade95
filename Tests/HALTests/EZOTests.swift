import EdgeCore
import Foundation
import EdgeTesting
import HAL
import HALSimulation
import Testing

@Suite struct EZOTests {
    typealias Circuit = EZOCircuit<SimulatedI2CBus>

    @Test func parseEveryResponseCode() throws {
        #expect(try Circuit.parseResponse([1] + Array("7.012".utf8) + [0, 0, 0], command: "R") == "7.012")
        #expect(try Circuit.parseResponse([1, 0, 0], command: "Cal,mid,7.00") == "")
        #expect(try Circuit.parseResponse([254, 0], command: "R") == nil)
        #expect(throws: SensorError.syntaxError(command: "X")) { try Circuit.parseResponse([2, 0], command: "X") }
        #expect(throws: SensorError.noData("the circuit had no reply pending for 'R'")) { try Circuit.parseResponse([255, 0], command: "R") }
        #expect(throws: SensorError.corruptResponse("status byte 7 to 'R'")) { try Circuit.parseResponse([7, 0], command: "R") }
        #expect(throws: SensorError.corruptResponse("empty reply to 'R'")) { try Circuit.parseResponse([], command: "R") }
        #expect(throws: SensorError.corruptResponse("non-printable byte 0x01 in reply to 'R'")) { try Circuit.parseResponse([1, 0x37, 0x01], command: "R") }
    }

    /// The Pi's clock-stretching bug sets bit 7 of payload bytes.
    @Test func bit7IsCleared() throws {
        let bytes: [UInt8] = [1] + "8.153".utf8.map { $0 | 0x80 } + [0]
        #expect(try Circuit.parseResponse(bytes, command: "R") == "8.153")
    }

    @Test func parseECMultiValueAndRTDNoProbe() throws {
        let ec = try Circuit.parseReading("53000.0,28620,35.01,1.026", kind: .ec)
        #expect(ec == [
            Measurement(channel: "conductivity", value: 53000, unit: "µS/cm"), Measurement(channel: "tds", value: 28620, unit: "ppm"),
            Measurement(channel: "salinity", value: 35.01, unit: "ppt"), Measurement(channel: "specific_gravity", value: 1.026, unit: "SG"),
        ])
        #expect(throws: SensorError.corruptResponse("'53000.0' has 1 values, the circuit's enabled outputs are "
            + "conductivity, tds, salinity, specific_gravity; the outputs are asked again (O,?)")) { try Circuit.parseReading("53000.0", kind: .ec) }
        #expect(throws: SensorError.disconnected("EZO-RTD reports -1023: no probe attached")) { try Circuit.parseReading("-1023.000", kind: .rtd) }
        #expect(throws: SensorError.corruptResponse("'abc' is not a number in 'abc'")) { try Circuit.parseReading("abc", kind: .ph) }
    }

    @Test func delaysFollowAtlas() throws {
        #expect(EZOKind.ph.delay(for: "R") == .milliseconds(900))
        #expect(EZOKind.orp.delay(for: "R") == .milliseconds(900))
        #expect(EZOKind.ec.delay(for: "R") == .milliseconds(600))
        #expect(EZOKind.dissolvedOxygen.delay(for: "Cal,mid,8.0") == .milliseconds(1300))
        #expect(EZOKind.ph.delay(for: "Cal,mid,7.00") == .milliseconds(900))
        #expect(EZOKind.ph.delay(for: "i") == .milliseconds(300))
    }

    private func circuit(_ kind: EZOKind, _ scenario: Scenario) -> (Circuit, SimulatedEZO, SimulatedI2CBus, ManualDeviceClock) {
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus(name: "i2c-1")
        let chip = SimulatedEZO(kind: kind, scenario: scenario, clock: clock)
        bus.attach(chip, at: kind.defaultAddress)
        return (EZOCircuit(bus: bus, kind: kind, clock: clock), chip, bus, clock)
    }

    @Test func readsEachKindFromSimulation() async throws {
        let cases: [(EZOKind, Double, [Double])] = [
            (.ph, 8.153, [8.153]), (.orp, 352.46, [352.5]), (.dissolvedOxygen, 6.784, [6.78]), (.rtd, 25.1234, [25.123]),
            (.ec, 53087, [53087]),
        ]
        for (kind, value, expected) in cases {
            let (sensor, _, _, clock) = circuit(kind, Scenario(shape: .constant(value)))
            let start = clock.now()
            let values = try await sensor.read()
            #expect(values.map(\.value) == expected, "\(kind)")
            #expect(values.map(\.channel) == Array(kind.channels.map(\.name).prefix(1)), "a factory EC circuit reports EC only")
            // The EC driver first asks which outputs are enabled (O,?, 300 ms).
            #expect(clock.elapsed(since: start) == kind.delay(for: "R") + (kind == .ec ? .milliseconds(300) : .zero), "\(kind) waited its delay once")
        }
        let (ec, chip, _, _) = circuit(.ec, Scenario(shape: .constant(53087)))
        for output in ["TDS", "S", "SG"] { _ = try await ec.command("O,\(output),1") }
        #expect(chip.enabledOutputs == ["EC", "TDS", "S", "SG"])
        let all = try await ec.read()
        #expect(all.map(\.value) == [53087, 28667, 35, 1.026])
        #expect(all.map(\.channel) == EZOKind.ec.channels.map(\.name))
    }

    @Test func commands() async throws {
        let (sensor, chip, bus, _) = circuit(.ph, Scenario(shape: .constant(7)))
        try await sensor.setTemperatureCompensation(26.5)
        #expect(chip.temperatureCompensation == 26.5)
        do { let got = try await sensor.calibrationPoints(); #expect(got == 0) }
        try await sensor.calibrate(.mid, value: 7)
        try await sensor.calibrate(.low, value: 4)
        do { let got = try await sensor.calibrationPoints(); #expect(got == 2) }
        try await sensor.calibrate(.mid, value: 7)
        do { let got = try await sensor.calibrationPoints(); #expect(got == 1, "Cal,mid clears the other points") }
        do { let got = try await sensor.info(); #expect(got == "?I,pH,2.16") }
        await assertThrows(SensorError.syntaxError(command: "Bogus")) { _ = try await sensor.command("Bogus") }
        try sensor.sleep()
        #expect(chip.isAsleep)
        #expect(try bus.read(count: 3, from: 0x63) == [255, 0, 0], "Sleep sends no reply")
        do { let got = try await sensor.read().first?.value; #expect(got == 7.0, "a command wakes it") }
        #expect(!(chip.isAsleep))
    }

    @Test func dissolvedOxygenCalibrationWaits1300ms() async throws {
        let (sensor, chip, _, clock) = circuit(.dissolvedOxygen, Scenario(shape: .constant(6.8)))
        let start = clock.now()
        do { let reply = try await sensor.command("Cal"); #expect(reply == "") }
        #expect(clock.elapsed(since: start) == .milliseconds(1300))
        #expect(chip.calibrationPoints == 1)
    }

    @Test func earlyReadGets254AndDriverRetries() async throws {
        let (_, chip, bus, clock) = circuit(.ph, Scenario(shape: .constant(7.5)))
        try bus.write(Array("R".utf8), to: 0x63)
        clock.advance(by: .milliseconds(899))
        #expect(try bus.read(count: 2, from: 0x63) == [254, 0])
        clock.advance(by: .milliseconds(1))
        #expect(try bus.read(count: 7, from: 0x63) == [1] + Array("7.500".utf8) + [0])
        #expect(try bus.read(count: 2, from: 0x63) == [255, 0], "nothing pending after the reply is read")
        _ = chip
    }

    @Test func stuckProcessingThrowsAfterBoundedRetries() async throws {
        let (sensor, chip, _, clock) = circuit(.orp, Scenario(shape: .constant(300)))
        chip.setStuckProcessing(true)
        let start = clock.now()
        await assertThrows(SensorError.stillProcessing(command: "R", attempts: 4)) { _ = try await sensor.read() }
        #expect(clock.elapsed(since: start) == .milliseconds(900 + 3 * 300))
    }

    @Test func busFaults() async throws {
        let (sensor, _, bus, _) = circuit(.ph, Scenario(shape: .constant(7)))
        bus.setFault(.absent, at: 0x63)
        await assertThrows(SensorError.busError(.noDevice("i2c-1 address 0x63"))) { _ = try await sensor.read() }
        bus.setFault(.corruptBytes(xor: 0x40), at: 0x63)
        await assertThrows(SensorError.corruptResponse("status byte 65 to 'R'")) { _ = try await sensor.read() }
    }

    @Test func noisyScenarioReplaysFromSeed() async throws {
        let scenario = Scenario(shape: .constant(8.2), noise: 0.05, seed: 42)
        let (a, _, _, _) = circuit(.ph, scenario)
        let (b, _, _, _) = circuit(.ph, scenario)
        let first = try await a.read()[0].value
        do { let second = try await b.read()[0].value; #expect(first == second) }
        #expect(first != 8.2)
        #expect(abs((first) - (8.2)) <= 0.25)
    }
}
