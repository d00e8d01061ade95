import EdgeCore
import Foundation
import EdgeTesting
import HAL
import HALSimulation
import Testing

@Suite struct ADS1115Tests {
    @Test func configWord() throws {
        let adc = ADS1115(bus: SimulatedI2CBus(), input: .ain1, fullScale: .v2_048, dataRate: .sps860, clock: ManualDeviceClock())
        // OS=1 MUX=101 PGA=010 MODE=1 DR=111 COMP_QUE=11 → 1101 0101 1110 0011
        #expect(adc.config == 0xD5E3)
    }

    @Test func voltsAndSaturation() throws {
        #expect(try ADS1115<SimulatedI2CBus>.volts(code: 16384, fullScale: .v4_096) == 2.048)
        #expect(try ADS1115<SimulatedI2CBus>.volts(code: -1, fullScale: .v0_256) == -0.0000078125)
        #expect(throws: SensorError.saturated(code: 32767)) { try ADS1115<SimulatedI2CBus>.volts(code: .max, fullScale: .v4_096) }
        #expect(throws: SensorError.saturated(code: -32768)) { try ADS1115<SimulatedI2CBus>.volts(code: .min, fullScale: .v4_096) }
    }

    @Test func singleShotAgainstSimulation() async throws {
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus(name: "i2c-1")
        // 1.5 V on AIN0 at ±4.096 V: code round(1.5/4.096 × 32768) = 12000 → exactly 1.5 V.
        bus.attach(SimulatedADS1115(inputs: [Scenario(shape: .constant(1.5)), Scenario(shape: .constant(5))], clock: clock), at: 0x48)
        let adc = ADS1115(bus: bus, clock: clock)
        let start = clock.now()
        do { let got = try await adc.read(); #expect(got == [Measurement(channel: "voltage", value: 1.5, unit: "V")]) }
        #expect(clock.elapsed(since: start) == .nanoseconds(7_812_500))
        // Big-endian on the wire: the conversion register holds 12000 = 0x2EE0.
        #expect(try bus.writeRead([0x00], readCount: 2, at: 0x48) == [0x2E, 0xE0])
        // 5 V on AIN1 clips at ±4.096 V.
        let clipped = ADS1115(bus: bus, input: .ain1, clock: clock)
        await assertThrows(SensorError.saturated(code: 32767)) { _ = try await clipped.read() }
        let differential = ADS1115(bus: bus, input: .ain0MinusAin1, fullScale: .v6_144, clock: clock)
        // 1.5 - 5 = -3.5 V at ±6.144 V: round(-3.5/6.144 × 32768) = -18667 → -18667 × 6.144 / 32768.
        do { let got = try await differential.read()[0].value; #expect(got == -18667 * 6.144 / 32768) }
        bus.setFault(.absent, at: 0x48)
        await assertThrows(SensorError.busError(.noDevice("i2c-1 address 0x48"))) { _ = try await adc.read() }
    }
}
