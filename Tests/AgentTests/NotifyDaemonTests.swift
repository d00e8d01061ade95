import EdgeTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real daemon on reef-sim.yaml with a scenario, notifying a real HTTPS receiver.
@Suite(.serialized) struct NotifyDaemonTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory("notify-daemon") }

    /// reef-sim.yaml as shipped, with `edits` (find → replace) applied; each must apply.
    func profile(_ edits: [(String, String)]) throws -> String {
        var text = try String(contentsOf: AgentBinary.repository.appendingPathComponent("device-profiles/reef-sim.yaml"), encoding: .utf8)
        for (find, replace) in edits {
            guard text.contains(find) else { throw ProfileEditFailed(find: find) }
            text = text.replacingOccurrences(of: find, with: replace)
        }
        let path = directory.file("profile.yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    struct ProfileEditFailed: Error { let find: String }

    /// agent.yaml with one notify target at `receiver`.
    func config(kind: String, receiver: HTTPSReceiver, rules: [String]) throws -> String {
        let path = directory.file("agent.yaml")
        try """
        device_id: reef-1
        notify:
          - id: phone
            kind: \(kind)
            url: \(receiver.url)/reef
            ca_file: \(receiver.caFile)
            kinds: [fired, resolved]
            rules: [\(rules.joined(separator: ", "))]
            grouping_window: 0s
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func start(profile: String, config: String) throws -> Daemon {
        try Daemon(arguments: ["run", "--profile", profile, "--data-dir", directory.file("data")],
                   environment: ["EDGE_AGENT_CONFIG": config, "NOTIFY_SOCKET": ""], logURL: URL(fileURLWithPath: directory.file("agent.log")))
    }

    @Test func theHeaterStuckScenarioFiresOneNtfyMessageWithTheTemperatureAndItsThresholdAndTheRecoveryOneResolved() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { withExtendedLifetime(certificates) { receiver.stop() } }
        // The probe jumps to 29 °C for four seconds, then back to 26 °C; the rule holds for 500 ms, not a minute.
        let profile = try profile([
            ("""
                interval: 10s
                simulation:
                  temperature: { sine: { mean: 25.5, amplitude: 0.3, period: 6h }, noise: 0.02, seed: 11 }
            """, """
                interval: 200ms
                simulation:
                  temperature: { points: [ { at: 0s, value: 25.5 }, { at: 2s, value: 25.5 }, { at: 2001ms, value: 29.0 },
                                           { at: 6s, value: 29.0 }, { at: 6001ms, value: 26.0 } ] }
            """),
            ("when: \"> 28.0\"\n    clear: 27.5\n    for: 1m", "when: \"> 28.0\"\n    clear: 27.5\n    for: 500ms"),
        ])
        let daemon = try start(profile: profile, config: try config(kind: "ntfy", receiver: receiver, rules: ["heater_stuck_on"]))
        let both = try await Daemon.eventually(timeout: .seconds(30)) { try receiver.requests().count >= 2 }
        #expect(both, "\(daemon.log)")
        try await Task.sleep(for: .seconds(2))
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")

        let requests = try receiver.requests()
        #expect(requests.map(\.method) == ["POST", "POST"] && requests.map(\.path) == ["/reef", "/reef"])
        #expect(requests.map { $0.header("X-Title") } == ["reef-1: heater_stuck_on fired", "reef-1: heater_stuck_on resolved"])
        #expect(requests.map { $0.header("X-Priority") } == ["5", "3"])
        #expect(requests.first?.text == "Tank at 29 °C (limit 28): heater switched off")
        #expect(requests.last?.text == "Resolved: Tank at 26 °C (limit 28): heater switched off")
    }

    @Test func killNineBetweenTheAnswerAndTheCommitSendsAtMostOneDuplicateWithTheSameKey() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { withExtendedLifetime(certificates) { receiver.stop() } }
        // The leak sensor is wet from the start; the service takes its time to answer.
        let profile = try profile([("wet: { constant: 0 }", "wet: { constant: 1 }")])
        let config = try config(kind: "webhook", receiver: receiver, rules: ["leak"])
        try receiver.script([.init(status: 200, body: "ok", delay: 30)])
        let first = try start(profile: profile, config: config)
        let inFlight = try await Daemon.eventually(timeout: .seconds(30)) { try receiver.requests().count == 1 }
        #expect(inFlight, "\(first.log)")
        first.signal(SIGKILL)
        _ = await first.wait(timeout: .seconds(5))

        try receiver.script([.init(status: 200, body: "ok")])
        let second = try start(profile: profile, config: config)
        let again = try await Daemon.eventually(timeout: .seconds(30)) { try receiver.requests().count >= 2 }
        #expect(again, "\(second.log)")
        try await Task.sleep(for: .seconds(3))
        second.signal(SIGTERM)
        #expect(await second.wait(timeout: .seconds(10)) == 0, "\(second.log)")

        let keys = try receiver.requests().map { $0.header("Idempotency-Key") }
        #expect(keys.count == 2, "one message and at most one duplicate: \(keys)")
        #expect(keys.first == keys.last && keys.first??.hasPrefix("reef-edge/phone/") == true, "\(keys)")
    }
}
