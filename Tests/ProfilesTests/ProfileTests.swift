import AlertEngine
import EdgeCore
import EdgeTesting
import Foundation
import HAL
import Profiles
import Testing

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct ShippedProfileTests {
    @Test(arguments: ["reef-sim.yaml", "reef-pi.yaml"])
    func loadsWithTheReefSensorsAndRules(file: String) throws {
        let profile = try DeviceProfile.load(path: repository.appendingPathComponent("device-profiles/\(file)").path)
        #expect(profile.sensors.map(\.id) == ["tank_temp", "sump_temp", "room", "ph", "orp", "salinity", "ato_float", "ato_high", "leak", "return_flow"])
        #expect(profile.sensors.map(\.driver) == [.ds18b20, .ds18b20, .bme280, .ezoPH, .ezoORP, .ezoEC, .floatSwitch, .floatSwitch, .leakSwitch, .flowMeter])
        #expect(profile.sensors.first { $0.id == "ph" }?.address == 0x63)
        #expect(profile.outputs.map(\.id) == ["heater_relay", "ato_pump", "return_pump"])
        #expect(profile.buses.allSatisfy { $0.simulated == (file == "reef-sim.yaml") })
        let hot = try #require(profile.alerts.first { $0.id == "heater_stuck_on" })
        #expect(hot.condition == .threshold(op: .greater, value: 28.0, clear: 27.5))
        #expect(hot.holdFor == .seconds(60))
        #expect(hot.severity == .critical)
        #expect(hot.action == AlertRule.Action(output: "heater_relay", state: false))
        #expect(profile.alerts.first { $0.id == "ph_crash" }?.condition == .rateOfChange(limit: -0.2, window: .seconds(3600)))
        #expect(profile.alerts.first { $0.id == "salinity_band" }?.sensorID == "salinity.salinity")
        #expect(profile.alerts.first { $0.id == "leak" }?.condition == .switchState(active: true))
        #expect(profile.alerts.first { $0.id == "ato_reservoir_low" }?.condition == .switchState(active: false))
        #expect(profile.sensors.first { $0.id == "room" }?.readingID("humidity") == "room.humidity")
        #expect(profile.sensors.first { $0.id == "tank_temp" }?.readingID("temperature") == "tank_temp")
    }
}

@Suite struct BrokenProfileTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory("broken-profile") }

    func errors(_ yaml: String) throws -> [ProfileError] {
        let path = directory.file("profile-\(UUID().uuidString).yaml")
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try DeviceProfile.load(path: path)
            Issue.record("a broken profile loaded")
            return []
        } catch {
            #expect(error.errors.allSatisfy { $0.file == path })
            return error.errors
        }
    }

    static let header = """
    name: broken
    buses:
      - { id: i2c, kind: i2c, simulated: true }
      - { id: gpio, kind: gpio, simulated: true }

    """

    @Test func everyErrorAtOnceWithLineAndKey() throws {
        let found = try errors(Self.header + """
        sensors:
          - id: ph
            driver: ezo_ph
            bus: i2c
            adress: 0x63
          - id: orp
            driver: ezo_orpp
            bus: i2c
          - id: room
            driver: bme280
            bus: i2c
            address: 0x99
            interval: 10ms
          - id: ph
            driver: ezo_ph
            bus: spi
        outputs:
          - { id: heater, bus: gpio, line: GPIO5, normal: on, fail_safe: off }
        alerts:
          - { id: hot, sensor: tank_temp, when: "> 28" }
          - { id: hum, sensor: room.humidity, when: "> 80", clear: 85 }
          - { id: band, sensor: ph, band: { low: 8.5, high: 7.8 } }
          - { id: wet, sensor: ph, switch: wet }
          - { id: off, sensor: ph, when: "< 7", action: { output: pump, state: off } }
        """)
        let summary = found.map { "\($0.line ?? 0) \($0.key)" }
        #expect(summary == [
            "9 sensors[0].adress",
            "11 sensors[1].driver",
            "16 sensors[2].address",
            "17 sensors[2].interval",
            "20 sensors[3].bus",
            "18 sensors[3].id",
            "24 alerts[0].sensor",
            "25 alerts[1].clear",
            "26 alerts[2].band",
            "27 alerts[3].switch",
            "28 alerts[4].action.output",
        ])
        #expect(found[0].message == "unknown key (did you mean 'address'?); allowed here: id, driver, bus, address, line, slave, interval, unit, active_low, debounce, k_factor, input, full_scale, filters, simulation, capture")
        #expect(found[1].message.hasPrefix("unknown driver 'ezo_orpp'; allowed: ds18b20, ezo_ph, ezo_orp"))
        #expect(found[2].message == "'0x99' is not a whole number in 3...119")
        #expect(found[6].message.hasPrefix("unknown sensor 'tank_temp'; readings of this profile: ph, room.humidity, room.pressure, room.temperature"))
        #expect(found[7].message == "clear 85.0 must be on the safe side of '> 80.0' (below it for > and >=, above it for < and <=)")
        #expect(found[9].message == "switch rules need a float_switch or leak_switch sensor; 'ph' is ezo_ph")
        #expect(found[0].description.hasSuffix(".yaml:9:5: sensors[0].adress: " + found[0].message))
    }

    @Test func yamlSyntaxErrorsNameTheirLine() throws {
        let found = try errors("name: x\nsensors:\n  - id: [unclosed\n")
        #expect(found.count == 1)
        #expect(found[0].line == 4)
        #expect(found[0].message.hasPrefix("not valid YAML"))
    }

    @Test func filtersAreCheckedToo() throws {
        let found = try errors(Self.header + """
        sensors:
          - id: ph
            driver: ezo_ph
            bus: i2c
            filters:
              - calibrate_linear: ["4.0 -> 4.0"]
              - exponential_moving_average: { alpha: 2 }
              - smooth: 3
        """)
        #expect(found.map(\.key) == ["sensors[0].filters[0].calibrate_linear", "sensors[0].filters[1].exponential_moving_average.alpha",
                                     "sensors[0].filters[2].smooth"])
        #expect(found.map(\.line) == [10, 11, 12])
    }
}

@Suite struct FilterTests {
    func run(_ specs: [FilterSpec], _ values: [Double], every step: UInt64 = 1_000_000_000) -> [FilterOutput?] {
        var chain = FilterChain(specs)
        return values.enumerated().map { i, v in
            chain.process(v, at: DeviceTime(unixMillis: 0, bootNanos: UInt64(i) * step, synchronized: true))
        }
    }

    @Test func offsetMultiplyAndCalibration() {
        #expect(run([.offset(0.5), .multiply(2)], [1]) == [FilterOutput(value: 3, quality: .ok)])
        // Least squares through (4.1, 4.0), (7.1, 7.0), (10.1, 10.0): slope 1, intercept -0.1.
        let calibrated = run([.calibrateLinear([.init(measured: 4.1, actual: 4), .init(measured: 7.1, actual: 7),
                                                .init(measured: 10.1, actual: 10)])], [8.1])
        #expect(abs(calibrated[0]!.value - 8.0) < 1e-12)
    }

    @Test func medianSendsFirstThenEveryN() {
        let out = run([.median(window: 5, sendEvery: 5, sendFirstAt: 1)], [10, 50, 20, 40, 30, 99, 1, 2, 3, 4, 5])
        #expect(out.map { $0?.value } == [10, nil, nil, nil, nil, 40, nil, nil, nil, nil, 3])
        #expect(out[0]?.quality == .filtered)
    }

    @Test func movingAverageAndEMA() {
        #expect(run([.slidingWindowMovingAverage(window: 3, sendEvery: 1, sendFirstAt: 1)], [3, 6, 9, 12]).map { $0?.value } == [3, 4.5, 6, 9])
        #expect(run([.exponentialMovingAverage(alpha: 0.5, sendEvery: 1)], [10, 20, 20]).map { $0?.value } == [10, 15, 17.5])
        #expect(run([.exponentialMovingAverage(alpha: 0.5, sendEvery: 2)], [10, 20, 20, 20]).map { $0?.value } == [nil, 15, nil, 18.75])
    }

    @Test func deltaThrottleAndClamp() {
        #expect(run([.delta(0.5)], [1, 1.2, 1.6, 1.0]).map { $0?.value } == [1, nil, 1.6, 1.0])
        #expect(run([.throttle(.seconds(2))], [1, 2, 3, 4, 5]).map { $0?.value } == [1, nil, 3, nil, 5])
        #expect(run([.clamp(min: 0, max: 14, ignoreOutOfRange: false)], [7, 15]) == [FilterOutput(value: 7, quality: .ok), FilterOutput(value: 14, quality: .suspect)])
        #expect(run([.clamp(min: 0, max: 14, ignoreOutOfRange: true)], [15, -1, 8]).map { $0?.value } == [nil, nil, 8])
    }

    @Test func heartbeatResendsTheLastValue() {
        var chain = FilterChain([.delta(1), .heartbeat(.seconds(10))])
        func at(_ s: UInt64) -> DeviceTime { DeviceTime(unixMillis: 0, bootNanos: s * 1_000_000_000, synchronized: true) }
        #expect(chain.process(5, at: at(0))?.value == 5)
        #expect(chain.process(5.1, at: at(3)) == nil)
        #expect(chain.tick(at: at(9)) == nil)
        #expect(chain.tick(at: at(10))?.value == 5)
        #expect(chain.tick(at: at(15)) == nil)
        #expect(chain.tick(at: at(20))?.value == 5)
    }
}
