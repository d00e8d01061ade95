import EdgeCore
import EdgeTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HAL
import HALSimulation
import Profiles
import Testing

/// Issue 11: numbers too big for their type, values that crash or hang at run time, values
/// that silently disable a rule or drop every reading, path traversal, quadratic checks,
/// non-UTF-8 files and duplicate keys: each refused at load with file:line:column and key.
@Suite struct HostileProfileTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory("hostile-profile") }

    func write(_ data: Data) throws -> String {
        let path = directory.file("hostile-\(UUID().uuidString).yaml")
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Every error's description with the temporary path replaced by `P`.
    func errors(_ yaml: String) throws -> [String] {
        let path = try write(Data(yaml.utf8))
        do {
            _ = try DeviceProfile.load(path: path)
            Issue.record("a hostile profile loaded")
            return []
        } catch {
            return error.errors.map { $0.description.replacingOccurrences(of: path, with: "P") }
        }
    }

    static let header = """
    name: hostile
    buses:
      - { id: i2c, kind: i2c, simulated: true }
      - { id: gpio, kind: gpio, simulated: true }
      - { id: w1, kind: w1, simulated: true }

    """

    @Test func numbersTooBigForTheirTypeAndRunTimeHazards() throws {
        let found = try errors(Self.header + """
        sensors:
          - id: t
            driver: ds18b20
            bus: w1
            slave: 28-0000075a1b2c
            interval: 9223372036854775807s
            simulation:
              temperature: { constant: 1e400, noise: 1e300 }
          - id: f
            driver: flow_meter
            bus: gpio
            line: GPIO5
            k_factor: 0
            simulation:
              flow: { sine: { mean: 1, amplitude: 1, period: 0s } }
          - id: s
            driver: float_switch
            bus: gpio
            line: GPIO6
            debounce: 1w
          - id: a
            driver: ads1115
            bus: i2c
            k_factor: -1
            full_scale: 99
            input: 18446744073709551616
        """)
        #expect(found == [
            "P:11:15: sensors[0].interval: '9223372036854775807s' is not a duration in 100ms...1d; write e.g. 500ms, 10s, 5m, 2h or 7d",
            "P:13:32: sensors[0].simulation.temperature.constant: '1e400' is not a number in -1000000000...1000000000",
            "P:13:46: sensors[0].simulation.temperature.noise: '1e300' is out of range; allowed: 0...1000000",
            "P:20:54: sensors[1].simulation.flow.sine.period: '0s' is out of range; allowed: 1s...3650d",
            "P:18:15: sensors[1].k_factor: '0' is out of range; allowed: 0.01...100000",
            "P:25:15: sensors[2].debounce: '1w' is out of range; allowed: 0ms...500ms",
            "P:29:15: sensors[3].k_factor: '-1' is out of range; allowed: 0.01...100000",
            "P:31:12: sensors[3].input: '18446744073709551616' is not a whole number in 0...3",
            "P:30:17: sensors[3].full_scale: '99' is out of range; allowed: 0.256...6.144",
        ])
    }

    @Test func valuesThatWouldSilentlyDoNothing() throws {
        let long = String(repeating: "x", count: 129)
        let found = try errors(Self.header + """
        sensors:
          - id: ph
            driver: ezo_ph
            bus: i2c
            unit: \(String(repeating: "u", count: 33))
            filters:
              - calibrate_linear: ["nan -> 7", "4 -> inf"]
          - id: \(long)
            driver: ezo_orp
            bus: i2c
          - id: \(String(repeating: "r", count: 120))
            driver: bme280
            bus: i2c
        alerts:
          - { id: hot, sensor: ph, when: "> nan" }
          - { id: cold, sensor: ph, when: "< -inf" }
          - { id: \(long), sensor: ph, stale: 5m }
        """)
        #expect(found == [
            "P:12:28: sensors[0].filters[0].calibrate_linear[0]: 'nan' is not a number in -1000000000...1000000000",
            "P:12:40: sensors[0].filters[0].calibrate_linear[1]: 'inf' is not a number in -1000000000...1000000000",
            "P:12:27: sensors[0].filters[0].calibrate_linear: needs 2 or 3 points with different measured values",
            "P:10:11: sensors[0].unit: is 33 bytes; at most 32 are allowed",
            "P:13:9: sensors[1].id: is 129 bytes; at most 128 are allowed",
            "P:16:9: sensors[2].id: reading id '\(String(repeating: "r", count: 120)).temperature' is 132 bytes; at most 128 are allowed",
            "P:20:34: alerts[0].when: ' nan' is not a number in -1000000000...1000000000; write the condition as '<operator> <number>', e.g. '> 28.0'",
            "P:21:35: alerts[1].when: ' -inf' is not a number in -1000000000...1000000000; write the condition as '<operator> <number>', e.g. '> 28.0'",
            "P:22:11: alerts[2].id: is 129 bytes; at most 128 are allowed",
        ])
    }

    @Test func pathTraversalInNamesIsRefused() throws {
        let found = try errors("""
        name: traversal
        buses:
          - { id: w1, kind: w1, device: /sys/bus/../../etc, simulated: true }
          - { id: gpio, kind: gpio, device: ../gpiochip0 }
          - { id: i2c, kind: i2c, device: /dev/i2c-1/../../sda }
        sensors:
          - { id: t, driver: ds18b20, bus: w1, slave: ../../x }
          - { id: u, driver: ds18b20, bus: w1, slave: 28-0000075A1B2C }
          - { id: l, driver: leak_switch, bus: gpio, line: ../GPIO5 }
        """)
        #expect(found == [
            "P:3:33: buses[0].device: '/sys/bus/../../etc' is not a w1 devices directory; write an absolute path without '.' or '..' (e.g. /sys/bus/w1/devices)",
            "P:4:37: buses[1].device: '../gpiochip0' is not a GPIO chip; write its name, label or number (gpiochip0, pinctrl-rp1) or a /dev path",
            "P:5:35: buses[2].device: '/dev/i2c-1/../../sda' is not an I2C bus; write /dev/i2c-N, i2c-N or N with N in 0...255",
            "P:7:47: sensors[0].slave: '../../x' is not a 1-Wire id; write the kernel's form: 2 hex digits, '-', 12 hex digits (e.g. 28-0000075a1b2c)",
            "P:8:47: sensors[1].slave: '28-0000075A1B2C' is not a 1-Wire id; write the kernel's form: 2 hex digits, '-', 12 hex digits (e.g. 28-0000075a1b2c)",
            "P:9:52: sensors[2].line: '../GPIO5' is not a line name: use up to 64 letters, digits, '_', '-' and '.' (e.g. GPIO17), or an offset",
        ])
    }

    @Test func simulatedAndSysfsBusesRefuseTraversalToo() async throws {
        let tree = try SimulatedOneWire(clock: ManualDeviceClock())
        #expect(throws: BusError.noDevice("1-Wire slave id '../../x' is not the kernel's form (2 hex digits, '-', 12 hex digits)")) {
            try tree.addSlave("../../x", scenario: Scenario(shape: .constant(25)))
        }
        #expect(!FileManager.default.fileExists(atPath: tree.root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("x").path))
        await #expect(throws: BusError.noDevice("invalid 1-Wire name ../w1_slave: a slave is 2 hex digits, '-', 12 hex digits")) {
            _ = try await tree.sysfs.read(slave: "..", file: "w1_slave")
        }
    }

    /// 40 000 sensors and 2 000 rules: the pairwise id check and the per-rule scan of every
    /// sensor took minutes; a set and an index built once load this in seconds in a debug build
    /// (most of it Yams).
    @Test func fortyThousandSensorsLoadWithLinearChecks() throws {
        var yaml = Self.header + "sensors:\n"
        for i in 0..<40_000 { yaml += "  - { id: s\(i), driver: ezo_ph, bus: i2c }\n" }
        yaml += "alerts:\n"
        for i in 0..<2_000 { yaml += "  - { id: r\(i), sensor: s\(i * 20), when: \"> 9\" }\n" }
        let profile = try DeviceProfile.parse(yaml: yaml, file: "big.yaml")
        #expect(profile.sensors.count == 40_000)
        #expect(profile.sensors.last?.id == "s39999")
        #expect(profile.alerts.count == 2_000)
        #expect(profile.alerts.last?.sensorID == "s39980")
    }

    @Test func nonUTF8SaysSoWithTheByte() throws {
        var data = Data("name: x\nsensors: []\n# caf".utf8)
        data.append(contentsOf: [0xE9, 0x0A])
        let path = try write(data)
        #expect(throws: (any Error).self) { try DeviceProfile.load(path: path) }
        do { _ = try DeviceProfile.load(path: path) } catch {
            #expect(error.description == "\(path):3: the profile is not UTF-8 text (invalid byte at offset 25); save it as UTF-8")
        }
    }

    @Test func duplicateKeysNameTheirLine() throws {
        let found = try errors(Self.header + """
        sensors:
          - id: ph
            driver: ezo_ph
            bus: i2c
            interval: 5s
            interval: 50s
        name: again
        """)
        #expect(found == ["P:10:5: not valid YAML: key 'interval' is given more than once in this mapping (first here)"])
    }

    @Test func deepNestingIsAnErrorNotAStackOverflow() throws {
        let deep = "name: x\nsensors: []\nboard: " + String(repeating: "[", count: 100_000) + "\n"
        #expect(try errors(deep) == ["P:3: nesting deeper than 64 levels; a profile or config needs far fewer"])
        // Brackets in quotes and comments are text, and `don't` opens no quote.
        let fine = "name: \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\" # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nsensors: []\n"
        #expect(try DeviceProfile.parse(yaml: fine, file: "fine.yaml").sensors.isEmpty)
        let sneaky = "name: x\nsensors: [don't, " + String(repeating: "[", count: 100) + "\n"
        #expect(try errors(sneaky) == ["P:2: nesting deeper than 64 levels; a profile or config needs far fewer"])
    }

    /// Aliases multiply: 1 000 sensors × 1 000 filters × 1 000 points written in a few KB.
    @Test func aliasesCannotExpandIntoBillionsOfNodes() throws {
        let points = "[" + Array(repeating: "*p", count: 1_000).joined(separator: ", ") + "]"
        let filters = "[" + Array(repeating: "*f", count: 1_000).joined(separator: ", ") + "]"
        let sensors = "[" + Array(repeating: "*s", count: 1_000).joined(separator: ", ") + "]"
        let yaml = """
        name: laughs
        board: &p "4 -> 4"
        buses: [{ id: i2c, kind: i2c, simulated: true }]
        outputs: [{ id: o, bus: i2c, line: L, normal: off, fail_safe: off, description: { calibrate_linear: &f { calibrate_linear: \(points) } } }]
        alerts: [{ id: s, sensor: &s { id: s, driver: ezo_ph, bus: i2c, filters: \(filters) } }]
        sensors: \(sensors)
        """
        let found = try errors(yaml)
        #expect(found.count == YAMLGuard.maxErrors)
        #expect(found.last == "P:4:124: sensors[0].filters[197].calibrate_linear: more than 200 errors; fix these first")
    }

    /// Valid values shared by aliases: 600 sensors × 1 000 filters; reading stops at the budget.
    @Test func aliasedValidValuesStopAtTheNodeBudget() throws {
        var yaml = Self.header + "sensors:\n  - { id: s0, driver: ezo_ph, bus: i2c, filters: &fl [&f { median: { window_size: 5 } }"
        yaml += String(repeating: ", *f", count: 999) + "] }\n"
        for i in 1..<600 { yaml += "  - { id: s\(i), driver: ezo_ph, bus: i2c, filters: *fl }\n" }
        let found = try errors(yaml)
        // An alias carries its anchor's position: line 7 is where the shared list is written.
        #expect(found == ["P:7:50: sensors[166].filters: more than 500000 values (aliases expanding?); a profile needs far fewer"], "\(found)")
    }

    /// A FIFO would block the reader forever; a directory or a device is not a profile either.
    @Test func onlyRegularFilesAreRead() throws {
        let fifo = directory.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        for path in [fifo, "/dev/zero", directory.path] {
            #expect(throws: ProfileErrors.self) { try DeviceProfile.load(path: path) }
            do { _ = try DeviceProfile.load(path: path) } catch {
                #expect(error.description == "\(path): not a regular file")
            }
            #expect(throws: ProfileErrors.self) { try DeviceProfile.loadOutputs(path: path) }
        }
    }
}
