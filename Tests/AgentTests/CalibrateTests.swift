import EdgeCore
import EdgeTesting
import Foundation
import HAL
import HALSimulation
import Profiles
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import edge_agent

/// `edge-agent calibrate` sessions against simulated circuits whose readings follow their
/// calibration: the keeper's answers come line by line as from standard input, and the probe
/// moves into each buffer when the keeper says it has.
@Suite struct CalibrateTests {
    /// Lines as a keeper types them; an action runs when its line is read (the probe moved).
    final class ScriptedLines: LineSource {
        let lines: Mutex<[(action: @Sendable () -> Void, text: String)]>
        init(_ lines: [(action: @Sendable () -> Void, text: String)]) { self.lines = Mutex(lines) }
        func nextLine() async -> String? {
            guard let next = lines.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { return nil }
            next.action()
            return next.text
        }
    }

    final class Output: Sendable {
        let text = Mutex("")
        var all: String { text.withLock { $0 } }
        var write: @Sendable (String) -> Void { { [self] line in text.withLock { $0 += line } } }
    }

    static func spec(_ yaml: String, file: String = "p.yaml") throws -> SensorSpec {
        try #require(try DeviceProfile.parse(yaml: yaml, file: file).sensors.first)
    }

    /// A worn pH probe (slope 90 %, +0.15 pH at 7): mid, low and high through the session, then
    /// the circuit reads each buffer as its value.
    @Test func phThreePoint() async throws {
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus()
        let chip = SimulatedEZO(kind: .ph, scenario: Scenario(shape: .constant(7)), clock: clock,
                                probe: .init(offset: 0.15, gain: 0.9))
        bus.attach(chip, at: 0x63)
        let circuit = EZOCircuit(bus: bus, kind: .ph, clock: clock)
        chip.immerse(in: 4)
        #expect(try await circuit.read()[0].value == 4.45, "uncalibrated: 7 + (4 − 7) × 0.9 + 0.15")

        let output = Output()
        var calibration = Calibration(spec: try Self.spec("""
            name: p
            buses: [{ id: i2c, kind: i2c, simulated: true }]
            sensors: [{ id: ph, driver: ezo_ph, bus: i2c }]
            """), lock: nil, clock: clock, write: output.write)
        calibration.input = ScriptedLines([
            ({ chip.immerse(in: 7) }, ""), ({}, "y"),
            ({ chip.immerse(in: 4) }, ""), ({}, "y"),
            ({ chip.immerse(in: 10) }, "10.00"), ({}, "yes"),
        ])
        let event = try await calibration.circuit(on: bus, address: 0x63, kind: .ph, clear: true, onePoint: false,
                                                  stability: Stability(count: 3, epsilon: 0.02))
        #expect(event.points == [
            CalibrationPoint(name: "mid", reference: 7, measured: 7.15),
            // Read through the mid point already stored: 4.45 − 0.15 and 9.85 − 0.15.
            CalibrationPoint(name: "low", reference: 4, measured: 4.3),
            CalibrationPoint(name: "high", reference: 10, measured: 9.7),
        ])
        #expect(event.result == "?CAL,3; ?Slope,90.0,90.0,-8.87")
        #expect(chip.calibrationPoints == 3)
        for (liquid, expected) in [(4.0, 4.0), (7.0, 7.0), (10.0, 10.0), (8.2, 8.2)] {
            chip.immerse(in: liquid)
            #expect(try await circuit.read()[0].value == expected, "\(liquid)")
        }
        let text = output.all
        #expect(text.contains("Now: ?CAL,0\nSent Cal,clear.\n"), "\(text)")
        #expect(text.contains("""
            Step 1 of 3: mid point. Rinse the probe and put it in the pH 7.00 buffer (the mid point comes first: it clears the others).
            Reference value [7.0] (enter to accept, 'skip' to leave this point out, 'quit' to stop): \
              reading 7.15 pH   drift 0.0 over the last 1 (stable within 0.02 over 3)
              reading 7.15 pH   drift 0.0 over the last 2 (stable within 0.02 over 3)
              reading 7.15 pH   drift 0.0 over the last 3 (stable within 0.02 over 3)   stable
            Store 7.0 as the mid point? [y/N] Sent Cal,mid,7.00.
            """), "\(text)")
        #expect(text.contains("Sent Cal,low,4.00.") && text.contains("Sent Cal,high,10.00."))
        #expect(text.hasSuffix("\nRead back: ?CAL,3; ?Slope,90.0,90.0,-8.87\n"), "\(text)")
    }

    /// An EC probe reading 10 % high: dry, low and high, then seawater reads as seawater.
    @Test func ecTwoPoint() async throws {
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus()
        let chip = SimulatedEZO(kind: .ec, scenario: Scenario(shape: .constant(53087)), clock: clock, probe: .init(gain: 1.1))
        bus.attach(chip, at: 0x64)
        let circuit = EZOCircuit(bus: bus, kind: .ec, clock: clock)
        #expect(try await circuit.read()[0].value == 58395.7)

        let output = Output()
        var calibration = Calibration(spec: try Self.spec("""
            name: p
            buses: [{ id: i2c, kind: i2c, simulated: true }]
            sensors: [{ id: salinity, driver: ezo_ec, bus: i2c }]
            """), lock: nil, clock: clock, write: output.write)
        calibration.input = ScriptedLines([
            ({ chip.immerse(in: 0) }, ""), ({}, "y"),
            ({ chip.immerse(in: 12880) }, ""), ({}, "y"),
            ({ chip.immerse(in: 80000) }, ""), ({}, "y"),
        ])
        let event = try await calibration.circuit(on: bus, address: 0x64, kind: .ec, clear: false, onePoint: false,
                                                  stability: Stability(count: 3, epsilon: 50))
        #expect(event.points.map(\.name) == ["dry", "low", "high"])
        // Each point read through those stored before it: dry zero, then the low point's scale.
        #expect(event.points.map(\.measured) == [0, 14168, 80000])
        #expect(event.result == "?CAL,2")
        chip.immerse(in: 53087)
        #expect(try await circuit.read()[0].value == 53087)
        chip.immerse(in: 12880)
        #expect(try await circuit.read()[0].value == 12880)
        #expect(output.all.contains("Sent Cal,dry.\n") && output.all.contains("Sent Cal,low,12880.\n") && output.all.contains("Sent Cal,high,80000.\n"))
    }

    /// A keeper who declines a point stores nothing for it; `quit` ends the session.
    @Test func declinedPointsAreNotStored() async throws {
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus()
        let chip = SimulatedEZO(kind: .orp, scenario: Scenario(shape: .constant(230)), clock: clock)
        bus.attach(chip, at: 0x62)
        var calibration = Calibration(spec: try Self.spec("""
            name: p
            buses: [{ id: i2c, kind: i2c, simulated: true }]
            sensors: [{ id: orp, driver: ezo_orp, bus: i2c }]
            """), lock: nil, clock: clock, write: Output().write)
        calibration.input = ScriptedLines([({}, "abc"), ({}, "225"), ({}, "n")])
        let event = try await calibration.circuit(on: bus, address: 0x62, kind: .orp, clear: false, onePoint: false,
                                                  stability: Stability(count: 2, epsilon: 2))
        #expect(event.points == [])
        #expect(chip.calibrationPoints == 0)
        calibration.input = ScriptedLines([({}, "quit")])
        await #expect(throws: CalibrationSession.Outcome.self) {
            _ = try await calibration.circuit(on: bus, address: 0x62, kind: .orp, clear: false, onePoint: false,
                                              stability: Stability(count: 2, epsilon: 2))
        }
    }

    /// ADS1115 points go into the profile as its first filter; comments and layout survive.
    @Test func ads1115PointsAreWrittenIntoTheProfileKeepingItsComments() async throws {
        let directory = try TemporaryDirectory("calibrate")
        let path = directory.file("profile.yaml")
        let original = """
            # My reef: analog pH on the ADS1115.
            name: reef
            buses:
              - { id: i2c, kind: i2c, simulated: true }   # the simulated bus
            sensors:
              # The probe through its amplifier board.
              - id: analog_ph
                driver: ads1115
                bus: i2c
                unit: pH
                filters:
                  - calibrate_linear: ["0.5 -> 1.0", "1.0 -> 2.0"]   # old points, replaced
                  - median: { window_size: 3, send_every: 1 }   # smoothing stays
                interval: 5s
              - id: room_temp   # the next sensor keeps its comment
                driver: bme280
                bus: i2c

            """
        try original.write(toFile: path, atomically: true, encoding: .utf8)
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus()
        let chip = SimulatedADS1115(inputs: [Scenario(shape: .constant(1))], clock: clock)
        bus.attach(chip, at: 0x48)
        let spec = try #require(try DeviceProfile.load(path: path).sensors.first)
        var calibration = Calibration(spec: spec, lock: nil, clock: clock, write: Output().write)
        calibration.input = ScriptedLines([
            ({ chip.apply(volts: 1.25, input: 0) }, "4.0"), ({}, "y"),
            ({ chip.apply(volts: 2.0, input: 0) }, "7.0"), ({}, "y"),
        ])
        let event = try await calibration.analog(on: bus, address: 0x48, points: 2, stability: Stability(count: 3, epsilon: 0.002),
                                                 profilePath: path, edit: true)
        #expect(event.result == "profile: calibrate_linear: [\"1.25 -> 4.0\", \"2.0 -> 7.0\"]")
        let written = try String(contentsOfFile: path, encoding: .utf8)
        #expect(written == original.replacingOccurrences(
            of: "      - calibrate_linear: [\"0.5 -> 1.0\", \"1.0 -> 2.0\"]   # old points, replaced\n",
            with: "      - calibrate_linear: [\"1.25 -> 4.0\", \"2.0 -> 7.0\"]\n"))
        #expect(try String(contentsOfFile: path + ".bak", encoding: .utf8) == original)
        let reloaded = try DeviceProfile.load(path: path)
        #expect(reloaded.sensors[0].filters.first == .calibrateLinear([.init(measured: 1.25, actual: 4), .init(measured: 2, actual: 7)]))

        // A sensor without filters gets the key; a flow-style one gets the block printed instead.
        let bare = "name: r\nbuses: [{ id: i2c, kind: i2c, simulated: true }]\nsensors:\n  - id: a\n    driver: ads1115\n    bus: i2c\n# end\n"
        let points = [CalibrationPoint(name: "1", reference: 4, measured: 1.25), CalibrationPoint(name: "2", reference: 7, measured: 2)]
        #expect(ProfileCalibrationWriter.apply(points, sensor: "a", to: bare, file: "r.yaml")
            == "name: r\nbuses: [{ id: i2c, kind: i2c, simulated: true }]\nsensors:\n  - id: a\n    driver: ads1115\n    bus: i2c\n"
            + "    filters:\n      - calibrate_linear: [\"1.25 -> 4.0\", \"2.0 -> 7.0\"]\n# end\n")
        let flow = "name: r\nbuses: [{ id: i2c, kind: i2c, simulated: true }]\nsensors:\n  - { id: a, driver: ads1115, bus: i2c }\n"
        #expect(ProfileCalibrationWriter.apply(points, sensor: "a", to: flow, file: "r.yaml") == nil)
    }

    /// The daemon leaves a paused sensor alone, and a dead session's marker pauses nothing;
    /// two holders of one bus lock take turns.
    @Test func pauseAndBusLock() async throws {
        let directory = try TemporaryDirectory("locks")
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus()
        bus.attach(SimulatedEZO(kind: .ph, scenario: Scenario(shape: .constant(8.1)), clock: clock), at: 0x63)
        let pause = SensorPause(sensor: "ph", directory: directory.path)
        let shared = SharedBusSensor(sensor: EZOCircuit(bus: bus, kind: .ph, clock: clock), lock: BusLock(bus: "i2c", directory: directory.path),
                                     pause: pause, clock: clock)
        #expect(try await shared.read()[0].value == 8.1)
        try pause.pause()
        await #expect(throws: SensorError.noData("paused while 'edge-agent calibrate' works on this sensor")) { _ = try await shared.read() }
        pause.resume()
        #expect(try await shared.read()[0].value == 8.1)
        try "999999\n".write(toFile: pause.path, atomically: true, encoding: .utf8)
        #expect(!pause.isPaused, "no process 999999: a killed session's marker")

        let lock = BusLock(bus: "i2c", directory: directory.path)
        let order = Output()
        var second: Task<Void, any Error>?
        try await lock.holding(clock: SystemDeviceClock()) {
            second = Task { try await lock.holding(clock: SystemDeviceClock()) { order.write("second ") } }
            try await Task.sleep(for: .milliseconds(200))
            order.write("first ")
        }
        try await second?.value
        #expect(order.all == "first second ")
    }
}

/// The real binary, its answers typed on standard input, while the daemon runs.
@Suite(.serialized) struct CalibrateProcessTests {
    @Test func calibrateThroughStandardInputWhileTheDaemonRuns() async throws {
        let directory = try TemporaryDirectory("calibrate-daemon")
        let locks = directory.file("locks")
        try FileManager.default.createDirectory(atPath: locks, withIntermediateDirectories: true)
        let profile = directory.file("p.yaml")
        try """
        name: p
        buses:
          - { id: i2c, kind: i2c, simulated: true }
        sensors:
          - { id: ph, driver: ezo_ph, bus: i2c, interval: 300ms, simulation: { ph: { constant: 7.1 } } }
        """.write(toFile: profile, atomically: true, encoding: .utf8)
        let data = directory.file("data")
        let environment = ["EDGE_AGENT_CONFIG": "", "NOTIFY_SOCKET": "", "EDGE_AGENT_LOCK_DIR": locks]
        let daemon = try Daemon(arguments: ["run", "--profile", profile, "--data-dir", data], environment: environment,
                                logURL: directory.url.appendingPathComponent("agent.log"))
        func count() -> Int {
            let out = try? AgentBinary.run(["readings", "dump", "--data-dir", data, "--format", "json"])
            return ((try? JSONSerialization.jsonObject(with: Data((out?.stdout ?? "").utf8))) as? [[String: Any]])?.count ?? 0
        }
        #expect(try await Daemon.eventually(timeout: .seconds(30)) { count() >= 2 }, "\(daemon.log)")

        let session = Process()
        session.executableURL = AgentBinary.url
        session.arguments = ["calibrate", "ph", "--profile", profile, "--data-dir", data, "--stable-readings", "2"]
        session.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let input = Pipe()
        let outputURL = directory.url.appendingPathComponent("calibrate.out")
        FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        session.standardInput = input
        session.standardOutput = try FileHandle(forWritingTo: outputURL)
        session.standardError = session.standardOutput
        try session.run()
        #expect(try await Daemon.eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: locks + "/edge-agent.paused.ph") })
        try await Task.sleep(for: .seconds(2)) // a read in flight when the pause began, and its commit, land
        let paused = count()
        try await Task.sleep(for: .seconds(2))
        #expect(count() == paused, "the daemon stores no reading of a sensor being calibrated")

        input.fileHandleForWriting.write(Data("\ny\nskip\nskip\n".utf8))
        try input.fileHandleForWriting.close()
        #expect(try await Daemon.eventually(timeout: .seconds(30)) { !session.isRunning })
        let output = try String(contentsOf: outputURL, encoding: .utf8)
        #expect(session.terminationStatus == 0, "\(output)")
        #expect(output.contains("reading 7.1 pH   drift 0.0 over the last 2 (stable within 0.02 over 2)   stable\n"), "\(output)")
        #expect(output.contains("Sent Cal,mid,7.00.\n"), "\(output)")
        #expect(output.hasSuffix("Read back: ?CAL,1; ?Slope,100.0,100.0,-5.92\n"), "\(output)")
        #expect(!FileManager.default.fileExists(atPath: locks + "/edge-agent.paused.ph"))
        #expect(try await Daemon.eventually(timeout: .seconds(10)) { count() > paused }, "readings resume")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")

        let list = try AgentBinary.run(["calibrate", "--list", "--data-dir", data], environment: environment)
        #expect(list.status == 0, "\(list.stderr)")
        let rows = list.stdout.split(separator: "\n")
        #expect(rows.count == 2 && rows[1].contains(" ph ") && rows[1].contains("ezo_ph") && rows[1].contains("mid 7.0")
                && rows[1].contains("?CAL,1; ?Slope,100.0,100.0,-5.92"), "\(list.stdout)")
    }
}
