import Foundation
import GRDB
import Readings
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real `edge-agent` binary as systemd runs it, on simulated hardware, checked through
/// the CLI a person would use.
@Suite(.serialized) struct DaemonTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// reef-sim's sensors with constant scenarios and fast polls, so every value is known.
    static func profile(tankTemperature: String = "{ constant: 25.5 }", extraAlerts: String = "") -> String {
        """
        name: reef-test
        buses:
          - { id: i2c, kind: i2c, simulated: true }
          - { id: gpio, kind: gpio, simulated: true }
          - { id: w1, kind: w1, simulated: true }
        sensors:
          - { id: tank_temp, driver: ds18b20, bus: w1, slave: 28-0000075a1b2c, interval: 200ms,
              simulation: { temperature: \(tankTemperature) } }
          - { id: room, driver: bme280, bus: i2c, interval: 500ms,
              simulation: { temperature: { constant: 22 }, pressure: { constant: 1013.25 }, humidity: { constant: 55 } } }
          - { id: ph, driver: ezo_ph, bus: i2c, interval: 500ms, simulation: { ph: { constant: 8.1 } } }
          - { id: orp, driver: ezo_orp, bus: i2c, interval: 500ms, simulation: { orp: { constant: 380 } } }
          - { id: ato_float, driver: float_switch, bus: gpio, line: GPIO17, interval: 200ms, simulation: { level: { constant: 1 } } }
          - { id: leak, driver: leak_switch, bus: gpio, line: GPIO27, interval: 200ms, simulation: { wet: { constant: 0 } } }
          - { id: return_flow, driver: flow_meter, bus: gpio, line: GPIO22, k_factor: 450, interval: 1s,
              simulation: { flow: { constant: 12 } } }
        outputs:
          - { id: heater_relay, bus: gpio, line: GPIO5, normal: on, fail_safe: off }
        alerts:
          - { id: leak, sensor: leak, switch: wet, severity: critical }
        \(extraAlerts)
        """
    }

    func start(_ profile: String, name: String = "profile.yaml") throws -> Daemon {
        let path = directory.appendingPathComponent(name)
        try profile.write(to: path, atomically: true, encoding: .utf8)
        return try Daemon(arguments: ["run", "--profile", path.path, "--data-dir", directory.appendingPathComponent("data").path],
                          environment: ["EDGE_AGENT_CONFIG": "", "NOTIFY_SOCKET": ""],
                          logURL: directory.appendingPathComponent("agent.log"))
    }

    func dump(_ extra: [String] = []) throws -> [[String: Any]] {
        let out = try AgentBinary.run(["readings", "dump", "--data-dir", directory.appendingPathComponent("data").path,
                                       "--format", "json"] + extra)
        guard out.status == 0 else { throw CLIFailure(output: out.stderr) }
        return try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]] ?? []
    }

    struct CLIFailure: Error { let output: String }

    func values(_ rows: [[String: Any]], _ sensor: String) -> [Double] {
        rows.filter { $0["sensor"] as? String == sensor }.compactMap { $0["value"] as? Double }
    }

    @Test func storesWhatTheSimulatedScenariosProduce() async throws {
        let daemon = try start(Self.profile())
        let enough = try await Daemon.eventually(timeout: .seconds(30)) {
            let rows = (try? dump()) ?? []
            return values(rows, "tank_temp").count >= 5 && values(rows, "return_flow").count >= 2 && values(rows, "ph").count >= 2
        }
        #expect(enough, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")

        let rows = try dump()
        // DS18B20 resolves 1/16 °C, EZO prints 3 decimals, ORP 1: these constants survive exactly.
        #expect(Set(values(rows, "tank_temp")) == [25.5])
        #expect(Set(values(rows, "ph")) == [8.1])
        #expect(Set(values(rows, "orp")) == [380])
        #expect(Set(values(rows, "ato_float")) == [1])
        #expect(Set(values(rows, "leak")) == [0])
        // BME280 goes through the datasheet's integer compensation: within its resolution.
        #expect(values(rows, "room.temperature").allSatisfy { abs($0 - 22) <= 0.01 })
        #expect(values(rows, "room.pressure").allSatisfy { abs($0 - 1013.25) <= 0.01 })
        #expect(values(rows, "room.humidity").allSatisfy { abs($0 - 55) <= 0.01 })
        // Pulses counted over a 1 s window: ±1 pulse of 90 per second.
        #expect(values(rows, "return_flow").allSatisfy { abs($0 - 12) <= 12.0 / 90 + 1e-9 })
        let sequences = rows.compactMap { $0["sequence"] as? Int }
        #expect(sequences == sequences.sorted() && Set(sequences).count == sequences.count)
        #expect(daemon.log.contains("stopped"))

        // The health the daemon left behind: every sensor ok, nothing firing.
        let status = try AgentBinary.run(["status", "--json", "--data-dir", directory.appendingPathComponent("data").path])
        let health = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let sensors = health?["sensors"] as? [[String: Any]] ?? []
        #expect(sensors.count == 7)
        #expect(sensors.allSatisfy { $0["state"] as? String == "ok" }, "\(sensors)")
    }

    @Test func killNineLosesNoCommittedReading() async throws {
        let daemon = try start(Self.profile())
        var before: [[String: Any]] = []
        _ = try await Daemon.eventually(timeout: .seconds(30)) {
            before = (try? dump()) ?? []
            return before.count >= 40
        }
        #expect(before.count >= 40)
        daemon.signal(SIGKILL)
        _ = await daemon.wait(timeout: .seconds(5))

        // The database opens cleanly, passes SQLite's own check, and holds every reading a
        // reader saw committed before the kill, unchanged.
        let database = try LocalDatabase.open(path: directory.appendingPathComponent("data/edge-agent.sqlite").path)
        #expect(database.recoveredFrom == nil)
        let check = try await database.writer.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
        #expect(check == "ok")
        let after = try dump()
        let afterBySequence = Dictionary(uniqueKeysWithValues: after.map { ($0["sequence"] as! Int, $0) })
        for row in before {
            let seq = row["sequence"] as! Int
            #expect(afterBySequence[seq]?["value"] as? Double == row["value"] as? Double, "reading #\(seq) lost or changed")
            #expect(afterBySequence[seq]?["sensor"] as? String == row["sensor"] as? String)
        }
    }

    @Test func heaterFailureFiresAndRecoveryResolvesThroughTheCLI() async throws {
        // The probe climbs from 25.5 to 29 °C, holds, then falls back to 26 °C.
        let ramp = "{ points: [ { at: 1s, value: 25.5 }, { at: 3s, value: 29.0 }, { at: 6s, value: 29.0 }, { at: 8s, value: 26.0 } ] }"
        let rule = """
          - { id: heater_stuck_on, sensor: tank_temp, when: "> 28.0", clear: 27.5, for: 500ms, severity: critical,
              description: "Tank at {value} {unit}", action: { output: heater_relay, state: off } }
        """
        let daemon = try start(Self.profile(tankTemperature: ramp, extraAlerts: rule))
        let data = directory.appendingPathComponent("data").path
        let profileArgs = ["--data-dir", data]
        func history() throws -> [[String: Any]] {
            let out = try AgentBinary.run(["alerts", "history", "--rule", "heater_stuck_on", "--format", "json"] + profileArgs,
                                          environment: ["EDGE_AGENT_PROFILE": directory.appendingPathComponent("profile.yaml").path])
            return (try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]]) ?? []
        }
        let firing = try await Daemon.eventually(timeout: .seconds(20)) {
            let out = try AgentBinary.run(["alerts", "--format", "json"] + profileArgs,
                                          environment: ["EDGE_AGENT_PROFILE": directory.appendingPathComponent("profile.yaml").path])
            return out.stdout.contains("\"rule\":\"heater_stuck_on\"") && out.stdout.contains("\"state\":\"firing\"")
        }
        #expect(firing, "\(daemon.log)")
        let resolved = try await Daemon.eventually(timeout: .seconds(20)) {
            try history().contains { $0["kind"] as? String == "resolved" }
        }
        #expect(resolved, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0)

        // Oldest first: the heater went off when the rule fired and back on when it resolved.
        let kinds = try history().reversed().map { $0["kind"] as? String ?? "?" }
        #expect(kinds == ["fired", "actuated", "resolved", "actuated"], "\(kinds)")
        let fired = try #require(try history().first { $0["kind"] as? String == "fired" })
        #expect((fired["value"] as? Double ?? 0) > 28.0)
        let message = fired["message"] as? String ?? ""
        #expect(message.hasPrefix("Tank at ") && message.hasSuffix(" °C") && !message.contains("{value}"), "\(message)")
    }

    @Test func aBadProfileOnReloadIsRejectedAndTheOldOneKeepsRunning() async throws {
        let daemon = try start(Self.profile())
        _ = try await Daemon.eventually(timeout: .seconds(30)) { ((try? dump()) ?? []).count >= 5 }
        try "name: broken\nsensors:\n  - id: x\n    driver: nope\n".write(to: directory.appendingPathComponent("profile.yaml"), atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        let rejected = await Daemon.eventually(timeout: .seconds(10)) { daemon.log.contains("reload rejected") }
        #expect(rejected, "\(daemon.log)")
        #expect(daemon.log.contains("sensors[0].driver: unknown driver 'nope'"))
        let count = try dump().count
        let growing = try await Daemon.eventually(timeout: .seconds(10)) { try dump().count > count + 3 }
        #expect(growing)
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0)
    }

    @Test func aBrokenProfileAtStartExitsWithEveryError() throws {
        let path = directory.appendingPathComponent("bad.yaml")
        try "name: x\nsensors:\n  - id: a\n    driver: ezo_ph\n    bus: nowhere\n".write(to: path, atomically: true, encoding: .utf8)
        let check = try AgentBinary.run(["check-config", path.path], environment: ["EDGE_AGENT_CONFIG": ""])
        #expect(check.status == 78)
        #expect(check.stderr.contains("bad.yaml:5:10: sensors[0].bus: 'nowhere' is not a declared bus"))
        let run = try AgentBinary.run(["run", "--profile", path.path, "--data-dir", directory.appendingPathComponent("d").path])
        #expect(run.status == 78)
    }
}
