import HAL
import Profiles
import Testing

/// The registry is what the loader validates against and what the board builds from; these
/// pin its facts (the driver table in docs/PROFILES.md) and the checks made with them.
@Suite struct DriverRegistryTests {
    @Test func everyDriverDeclaresItsBusAddressAndChannels() {
        let table = DriverKind.allCases.map { kind in
            let address = kind.defaultAddress.map { "0x" + String($0, radix: 16) } ?? "-"
            return "\(kind.rawValue) \(kind.bus.rawValue) \(address) " + kind.channels.map { "\($0.name)(\($0.unit))" }.joined(separator: ",")
        }
        #expect(table == [
            "ds18b20 w1 - temperature(°C)",
            "ezo_ph i2c 0x63 ph(pH)",
            "ezo_orp i2c 0x62 orp(mV)",
            "ezo_ec i2c 0x64 conductivity(µS/cm),tds(ppm),salinity(ppt),specific_gravity(SG)",
            "ezo_do i2c 0x61 dissolved_oxygen(mg/L)",
            "ezo_rtd i2c 0x66 temperature(°C)",
            "bme280 i2c 0x76 temperature(°C),pressure(hPa),humidity(%RH)",
            "ads1115 i2c 0x48 voltage(V)",
            "float_switch gpio - level(state)",
            "leak_switch gpio - wet(state)",
            "flow_meter gpio - flow(L/min)",
            "ds1822 w1 - temperature(°C)",
            "ds18s20 w1 - temperature(°C)",
            "max31850 w1 - temperature(°C)",
        ])
    }

    static let header = """
    name: registry
    buses:
      - { id: i2c, kind: i2c, simulated: true }
      - { id: gpio, kind: gpio, simulated: true }
    sensors:

    """

    func errors(_ sensors: String, header: String = Self.header) -> [String] {
        do {
            _ = try DeviceProfile.parse(yaml: header + sensors, file: "p.yaml")
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    @Test func anAddressOnlyOnAnI2CDriver() {
        #expect(errors("  - { id: leak, driver: leak_switch, bus: gpio, line: GPIO5, address: 0x20 }\n") == [
            "p.yaml:6:71: sensors[0].address: driver leak_switch is on a gpio bus; only I2C drivers take an address",
        ])
        #expect(errors("  - { id: ph, driver: ezo_ph, bus: i2c, address: 0x20 }\n") == [])
    }

    /// The slave id's family code says which chip it is: a driver for another family is refused.
    @Test func aOneWireDriverMustMatchTheSlavesFamily() {
        #expect(errors("""
          - { id: a, driver: ds18b20, bus: w1, slave: 10-000802b4b1c3 }
          - { id: b, driver: ds18b20, bus: w1, slave: 26-000000a1b2c3 }
          - { id: c, driver: max31850, bus: w1, slave: 28-0316a2794bff }
          - { id: d, driver: ds18s20, bus: w1, slave: 10-000802b4b1c3 }
          - { id: e, driver: ds1822, bus: w1, slave: 22-000000c0ffee }
          - { id: f, driver: max31850, bus: w1, slave: 3b-000000181c2d }

        """, header: "name: w1\nbuses:\n  - { id: w1, kind: w1, simulated: true }\nsensors:\n") == [
            "p.yaml:5:47: sensors[0].slave: '10-000802b4b1c3' is 1-Wire family 10, driver ds18b20 reads family 28 (DS18B20); it is a DS18S20: use driver ds18s20",
            "p.yaml:6:47: sensors[1].slave: '26-000000a1b2c3' is 1-Wire family 26, driver ds18b20 reads family 28 (DS18B20); no driver reads that family",
            "p.yaml:7:48: sensors[2].slave: '28-0316a2794bff' is 1-Wire family 28, driver max31850 reads family 3b (MAX31850); it is a DS18B20: use driver ds18b20",
        ])
    }

    @Test func aMisspeltDriverGetsTheNearestName() {
        #expect(errors("  - { id: ph, driver: ezo-ph, bus: i2c }\n") == [
            "p.yaml:6:23: sensors[0].driver: unknown driver 'ezo-ph'; allowed: ds18b20, ezo_ph, ezo_orp, ezo_ec, ezo_do, ezo_rtd, "
                + "bme280, ads1115, float_switch, leak_switch, flow_meter, ds1822, ds18s20, max31850; did you mean 'ezo_ph'?",
        ])
    }

    /// `outputs:` is the simulated EC circuit's output setting, checked against the circuit's
    /// output names, and only an EC circuit has one.
    @Test func simulatedOutputsAreTheECCircuitsOwn() throws {
        let profile = try DeviceProfile.parse(yaml: Self.header + "  - { id: ec, driver: ezo_ec, bus: i2c, simulation: { outputs: [EC, S] } }\n", file: "p.yaml")
        #expect(profile.sensors.first?.simulatedOutputs == ["EC", "S"])
        #expect(try DeviceProfile.parse(yaml: Self.header + "  - { id: ec, driver: ezo_ec, bus: i2c }\n", file: "p.yaml").sensors.first?.simulatedOutputs == nil)
        #expect(errors("  - { id: ec, driver: ezo_ec, bus: i2c, simulation: { outputs: [EC, SAL] } }\n") == [
            "p.yaml:6:69: sensors[0].simulation.outputs: 'SAL' is not an EC circuit output; allowed: EC, TDS, S, SG",
        ])
        #expect(errors("  - { id: ec, driver: ezo_ec, bus: i2c, simulation: { outputs: [] } }\n") == [
            "p.yaml:6:64: sensors[0].simulation.outputs: list at least one output (EC, TDS, S, SG)",
        ])
        #expect(errors("  - { id: ph, driver: ezo_ph, bus: i2c, simulation: { outputs: [EC] } }\n") == [
            "p.yaml:6:55: sensors[0].simulation.outputs: unknown key; allowed here: ph",
        ])
    }

    @Test func theDriverDecidesTheBus() {
        #expect(errors("  - { id: ph, driver: ezo_ph, bus: gpio }\n") == [
            "p.yaml:6:36: sensors[0].bus: driver ezo_ph needs a i2c bus; 'gpio' is gpio",
        ])
    }
}
