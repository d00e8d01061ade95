import EdgeCore
import EdgeTesting
import Foundation
import HAL
import HALSimulation
import Testing

/// Each w1_therm family decoded as its datasheet lays out the scratchpad, read from a
/// simulated tree whose text is what w1_therm prints (CRC computed over the bytes, `t=` the
/// kernel's own conversion for the family).
@Suite struct OneWireFamilyTests {
    private func read(_ id: String, _ celsius: Double, fault: SimulatedOneWire.Fault? = nil) async throws -> (Double, String) {
        let tree = try SimulatedOneWire(clock: ManualDeviceClock())
        try tree.addSlave(id, scenario: Scenario(shape: .constant(celsius)))
        try tree.setFault(fault, slave: id)
        let text = try await tree.sysfs.read(slave: id, file: "w1_slave")
        return (try await OneWireThermometer(bus: tree.bus, slave: id).read()[0].value, text)
    }

    /// Datasheet: 25.0 °C is TEMP_READ 0x0032 (half degrees) with COUNT_REMAIN 12 of 16.
    @Test func ds18s20UsesCountRemainForItsExtendedResolution() async throws {
        let (celsius, text) = try await read("10-000802b4b1c3", 25.0)
        #expect(celsius == 25.0)
        #expect(text == "32 00 4b 46 ff ff 0c 10 6b : crc=6b YES\n32 00 4b 46 ff ff 0c 10 6b t=25000\n")
        #expect(try OneWireThermometer<SysfsOneWire>.parseW1Slave(text, family: .ds18s20) == 25.0)
        for (value, expected) in [(25.0625, 25.0625), (-10.125, -10.125), (85.5, 85.5), (-55, -55), (0.5, 0.5)] {
            #expect(try await read("10-000802b4b1c3", value).0 == expected, "\(value)")
        }
        // The DS18B20's decoding of the same bytes is the bug this fixes: 50/16 = 3.125.
        #expect(try OneWireThermometer<SysfsOneWire>.parseW1Slave(text, family: .ds18b20) == 3.125)
        await #expect(throws: SensorError.powerOnReset) { _ = try await read("10-000802b4b1c3", 0, fault: .powerOnReset) }
    }

    @Test func ds1822ReadsLikeTheDS18B20() async throws {
        let (celsius, text) = try await read("22-000000c0ffee", 25.0625)
        #expect(celsius == 25.0625)
        #expect(text.hasSuffix("t=25062\n"))
    }

    /// MAX31850: 14-bit thermocouple temperature in quarter degrees; faults in byte 2.
    @Test func max31850ReadsTheThermocoupleAndItsFaults() async throws {
        let (celsius, text) = try await read("3b-000000181c2d", 1023.75)
        #expect(celsius == 1023.75)
        #expect(text.hasPrefix("fc 3f 00 19 f0 ff ff ff "))
        #expect(text.hasSuffix("t=1023750\n"))
        #expect(try await read("3b-000000181c2d", -200.25).0 == -200.25)
        let faults: [(SimulatedOneWire.Fault, String)] = [
            (.thermocoupleOpen, "open circuit: the thermocouple is unplugged or broken"),
            (.thermocoupleShortToGround, "thermocouple shorted to GND: check the probe's insulation"),
            (.thermocoupleShortToVDD, "thermocouple shorted to VDD: check the probe's insulation"),
        ]
        for (fault, message) in faults {
            await #expect(throws: SensorError.thermocoupleFault(message)) { _ = try await read("3b-000000181c2d", 300, fault: fault) }
        }
        let faulty = SimulatedOneWire.kernelText(celsius: 300, fault: .thermocoupleOpen, family: 0x3B).w1Slave
        #expect(faulty.hasPrefix("c1 12 01 19 f0 ff ff ff "), "fault bit in byte 0, OC in byte 2")
        #expect(faulty.hasSuffix("t=300000\n"), "the kernel masks the fault bit")
    }

    @Test func anUnsupportedFamilyIsAnErrorNamingIt() async throws {
        let tree = try SimulatedOneWire(clock: ManualDeviceClock())
        await #expect(throws: SensorError.unsupportedDevice("1-Wire slave 26-000000a1b2c3 is family 26, not a thermometer this agent reads "
            + "(10 DS18S20, 22 DS1822, 28 DS18B20, 3b MAX31850)")) {
            _ = try await OneWireThermometer(bus: tree.bus, slave: "26-000000a1b2c3").read()
        }
    }

    /// Datasheet range −55…+125 °C: 0x0800 (+128 °C) is not a reading.
    @Test func ds18b20ValuesOutsideItsRangeAreErrors() async throws {
        let pad: [UInt8] = [0x00, 0x08, 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10]
        let bytes = (pad + [dallasCRC8(pad)]).map { String(format: "%02x", $0) }.joined(separator: " ")
        let text = "\(bytes) : crc=\(bytes.suffix(2)) YES\n\(bytes) t=128000\n"
        #expect(throws: SensorError.outOfRange("128.0 °C is outside the sensor's −55…+125 °C: the scratchpad is corrupt or the probe faulty")) {
            try OneWireThermometer<SysfsOneWire>.parseW1Slave(text)
        }
        await #expect(throws: SensorError.outOfRange("-55.0625 °C is outside the sensor's −55…+125 °C: the scratchpad is corrupt or the probe faulty")) {
            _ = try await read("28-0316a2794bff", -55.0625)
        }
        #expect(try await read("28-0316a2794bff", 125).0 == 125)
        #expect(try await read("28-0316a2794bff", -55).0 == -55)
    }

    /// The kernel prints the CRC it computes over bytes 0–7, whatever byte 8 says.
    @Test func everyFaultPrintsTheComputedCRC() throws {
        for family: UInt8 in [0x28, 0x10, 0x3B] {
            for fault: SimulatedOneWire.Fault in [.crcFailureOldKernel, .allOnes, .allZeroScratchpad, .powerOnReset, .insufficientPower] {
                let text = SimulatedOneWire.kernelText(celsius: 21.5, fault: fault, family: family).w1Slave
                let bytes = text.prefix(26).split(separator: " ").compactMap { UInt8($0, radix: 16) }
                let printed = text.split(separator: "crc=")[1].prefix(2)
                #expect(printed == String(format: "%02x", dallasCRC8(bytes[0..<8])), "\(family) \(fault)")
                #expect(text.contains(bytes[8] == dallasCRC8(bytes[0..<8]) ? " YES\n" : " NO\n"))
            }
        }
        // Eight bytes of all ones have the CRC 0xC9; the ninth (0xFF) does not match.
        #expect(SimulatedOneWire.kernelText(celsius: 0, fault: .allOnes).w1Slave
            == "ff ff ff ff ff ff ff ff ff : crc=c9 NO\nff ff ff ff ff ff ff ff ff t=-62\n")
    }
}
