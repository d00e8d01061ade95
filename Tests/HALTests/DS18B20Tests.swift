import EdgeCore
import Foundation
import EdgeTesting
import HAL
import HALSimulation
import Testing

@Suite struct DS18B20Tests {
    typealias Probe = OneWireThermometer<SysfsOneWire>

    /// Kernel text for raw 0x0191: the kernel prints t=25062, the chip measured 25.0625 °C.
    @Test func rawScratchpadGivesFullResolution() throws {
        let text = "91 01 4b 46 7f ff 0f 10 25 : crc=25 YES\n91 01 4b 46 7f ff 0f 10 25 t=25062\n"
        #expect(try Probe.parseW1Slave(text) == 25.0625)
    }

    @Test func negativeTemperature() throws {
        // 0xFF5E = -162 → -10.125 °C; CRC computed by the simulator's kernel text.
        let (w1, file) = SimulatedOneWire.kernelText(celsius: -10.125, fault: nil)
        #expect(w1 == "5e ff 4b 46 7f ff 0c 10 \(w1.split(separator: " ")[8]) : crc=\(w1.split(separator: " ")[8]) YES\n"
            + "5e ff 4b 46 7f ff 0c 10 \(w1.split(separator: " ")[8]) t=-10125\n")
        #expect(try Probe.parseW1Slave(w1) == -10.125)
        #expect(try Probe.parseTemperatureFile(file) == -10.125)
    }

    @Test func dallasCRC() throws {
        // Maxim application note 27 example ROM: 02 1C B8 01 00 00 00 → CRC A2.
        #expect(dallasCRC8([0x02, 0x1C, 0xB8, 0x01, 0x00, 0x00, 0x00]) == 0xA2)
    }

    @Test func rejectsEveryBadFile() throws {
        let cases: [(String, SensorError)] = [
            ("", .disconnected("empty w1_slave: the kernel saw no presence pulse or a CRC failure")),
            ("91 01 4b 46 7f ff 0f 10 25 : crc=25 NO\n91 01 4b 46 7f ff 0f 10 25 t=25062\n", .crcMismatch("kernel reported 25 NO")),
            ("91 01 4b 46 7f ff 0f 10 26 : crc=26 YES\n91 01 4b 46 7f ff 0f 10 26 t=25062\n",
             .crcMismatch("scratchpad CRC 0x26 does not match its bytes")),
            ("00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n", .disconnected("scratchpad reads all zeros")),
            ("ff ff ff ff ff ff ff ff ff : crc=ff NO\nff ff ff ff ff ff ff ff ff t=-62\n", .disconnected("scratchpad reads all ones: the data line floats")),
            (SimulatedOneWire.kernelText(celsius: 0, fault: .powerOnReset).w1Slave, .powerOnReset),
            (SimulatedOneWire.kernelText(celsius: 0, fault: .insufficientPower).w1Slave, .insufficientPower),
            ("garbage", .corruptResponse("w1_slave is not two lines of scratchpad: garbage")),
        ]
        for (text, expected) in cases {
            #expect(throws: expected, "\(text)") { try Probe.parseW1Slave(text) }
        }
        #expect(SimulatedOneWire.kernelText(celsius: 0, fault: .powerOnReset).w1Slave.hasSuffix("t=85000\n"))
        #expect(SimulatedOneWire.kernelText(celsius: 0, fault: .insufficientPower).w1Slave.hasSuffix("t=127937\n"))
    }

    @Test func temperatureFile() throws {
        #expect(try Probe.parseTemperatureFile("25062\n") == 25.062)
        #expect(throws: SensorError.disconnected("empty temperature file: presence or CRC failure")) { try Probe.parseTemperatureFile("") }
        #expect(throws: SensorError.powerOnReset) { try Probe.parseTemperatureFile("85000\n") }
        #expect(throws: SensorError.insufficientPower) { try Probe.parseTemperatureFile("127937\n") }
    }

    /// The simulated tree is read through the production sysfs backend.
    @Test func simulatedTreeThroughSysfsBackend() async throws {
        let clock = ManualDeviceClock()
        let tree = try SimulatedOneWire(clock: clock)
        let id = "28-0316a2794bff"
        try tree.addSlave(id, scenario: Scenario(shape: .ramp(start: 25.0625, perSecond: 0.0625, limit: nil)))
        do { let got = try await tree.bus.slaves(); #expect(got == [id]) }
        let probe = OneWireThermometer(bus: tree.bus, slave: id)
        #expect(probe.channels == [Channel(name: "temperature", unit: "°C")])
        do { let got = try await probe.read(); #expect(got == [Measurement(channel: "temperature", value: 25.0625, unit: "°C")]) }
        clock.advance(by: .seconds(2))
        do { let got = try await probe.read()[0].value; #expect(got == 25.1875) }

        for (fault, expected) in [
            (SimulatedOneWire.Fault.crcFailureOldKernel, SensorError.crcMismatch("kernel reported \(try await crcField(tree, id)) NO")),
            (.emptyFile, .disconnected("empty w1_slave: the kernel saw no presence pulse or a CRC failure")),
            (.powerOnReset, .powerOnReset), (.insufficientPower, .insufficientPower),
            (.allZeroScratchpad, .disconnected("scratchpad reads all zeros")),
            (.allOnes, .disconnected("scratchpad reads all ones: the data line floats")),
        ] {
            try tree.setFault(fault, slave: id)
            await assertThrows(expected) { _ = try await probe.read() }
        }
        try tree.setFault(nil, slave: id)
        do { let got = try await probe.read()[0].value; #expect(got == 25.1875) }

        try tree.removeSlave(id)
        do { let got = try await tree.bus.slaves(); #expect(got == []) }
        await assertThrows(SensorError.noDevice("1-Wire slave \(id) is gone from the bus: check the probe cable")) { _ = try await probe.read() }
    }

    private func crcField(_ tree: SimulatedOneWire, _ id: String) async throws -> String {
        try tree.setFault(.crcFailureOldKernel, slave: id)
        let text = try await tree.sysfs.read(slave: id, file: "w1_slave")
        return String(text.split(separator: "\n")[0].split(separator: "crc=")[1].prefix(2))
    }

    @Test func missingRootIsBusMissing() async throws {
        let bus = SysfsOneWire(root: "/nonexistent-w1")
        do {
            _ = try await bus.slaves()
            Issue.record("listed a missing bus")
        } catch let error as BusError {
            #expect(error == .busMissing(path: "/nonexistent-w1", hint: "enable 1-Wire with dtoverlay=w1-gpio in /boot/firmware/config.txt and reboot"))
        } catch { Issue.record("\(error)") }
    }
}
