import ArgumentParser
import EdgeCore
import Foundation
import HAL
import Profiles

/// `edge-agent calibrate SENSOR`: walks the circuit's calibration procedure at the keyboard
/// (docs/CALIBRATION.md). Safe while the daemon runs: the daemon leaves the sensor alone
/// while the session runs (`SensorPause`), and every exchange holds the bus's lock.
struct CalibrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Calibrate a sensor step by step (EZO circuits, ADS1115 analog probes), or list past calibrations with --list.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Device profile (overrides the config).") var profile: String?
    @Flag(help: "List the recorded calibrations and exit.") var list = false
    @Flag(help: "Erase the circuit's calibration (Cal,clear) before the first point.") var clear = false
    @Flag(help: "EC: dry, then one point instead of low and high.") var onePoint = false
    @Option(help: "ADS1115: how many reference liquids, 2 or 3.") var points = 2
    @Option(help: "Readings that must agree before a point counts as stable (default per circuit: 5).") var stableReadings: Int?
    @Option(help: "How far apart those readings may be (default per circuit, e.g. 0.02 pH).") var epsilon: Double?
    @Flag(help: "ADS1115: print the filter block instead of writing it into the profile.") var print = false
    @Argument(help: "The sensor id in the profile.") var sensor: String?

    func run() async throws {
        var config = try global.load()
        if let profile { config.profilePath = profile }
        let log = CalibrationLog(dataDirectory: config.dataDirectory)
        if list {
            let rows = log.events().map { event in
                Row([("at", .text(event.at)), ("who", .text(event.who)), ("sensor", .text(event.sensor)), ("driver", .text(event.driver)),
                     ("points", .text(event.points.map { "\($0.name) \(CalibrationSession.format($0.reference))" }.joined(separator: ", "))),
                     ("result", .text(event.result))])
            }
            Console.write(RowPrinter(format: .table, columns: ["at", "who", "sensor", "driver", "points", "result"]).render(rows))
            return
        }
        guard let sensor else { throw CLIError("name the sensor to calibrate (or --list)") }
        guard (2...3).contains(points) else { throw CLIError("--points is 2 or 3") }
        if let stableReadings, !(2...100).contains(stableReadings) { throw CLIError("--stable-readings is 2…100") }
        if let epsilon, !(epsilon.isFinite && epsilon > 0 && epsilon < 1e6) { throw CLIError("--epsilon is a positive number") }

        let clock = SystemDeviceClock()
        let opened = try OpenedSensor.open(sensor, profilePath: config.profilePath, clock: clock) { spec in
            guard spec.driver.ezoKind != nil || spec.driver == .ads1115 else {
                throw CLIError("\(spec.driver.rawValue) is not calibrated here: EZO circuits and ADS1115 probes are; "
                    + "for others add an offset or calibrate_linear filter (docs/PROFILES.md)")
            }
        }
        let (spec, bus, address) = (opened.spec, opened.bus, opened.address)
        let pause = SensorPause(sensor: spec.id)
        try pause.pause()
        defer { pause.resume() }
        let calibration = Calibration(spec: spec, lock: opened.lock, clock: clock, write: { Console.write($0) })
        let event: CalibrationEvent
        if let kind = spec.driver.ezoKind {
            event = try await calibration.circuit(on: bus, address: address, kind: kind, clear: clear, onePoint: onePoint,
                                                  stability: stability(CalibrationProcedure.stability(kind)))
        } else {
            event = try await calibration.analog(on: bus, address: address, points: points,
                                                 stability: stability(Stability(count: 5, epsilon: 0.002)),
                                                 profilePath: config.profilePath, edit: !print)
        }
        try log.append(event)
    }

    private func stability(_ defaults: Stability) -> Stability {
        Stability(count: stableReadings ?? defaults.count, epsilon: epsilon ?? defaults.epsilon)
    }
}
