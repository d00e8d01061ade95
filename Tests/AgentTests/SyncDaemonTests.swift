import EdgeTesting
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Sync's failures degrade sync alone: the real daemon keeps polling and alerting, says why
/// in its health, and stops at once whatever the network does.
@Suite(.serialized) struct SyncDaemonTests {
    let directory: URL
    var data: String { directory.appendingPathComponent("data").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sync-daemon-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    static let profile = """
        name: sync-daemon-test
        buses:
          - { id: w1, kind: w1, simulated: true }
        sensors:
          - { id: tank_temp, driver: ds18b20, bus: w1, slave: 28-0000075a1b2c, interval: 200ms,
              simulation: { temperature: { constant: 25.5 } } }
        """

    static let leakProfile = """
        name: sync-daemon-leak
        buses:
          - { id: gpio, kind: gpio, simulated: true }
        sensors:
          - { id: leak, driver: leak_switch, bus: gpio, line: GPIO27, interval: 200ms, simulation: { wet: { constant: 1 } } }
        alerts:
          - { id: leak, sensor: leak, switch: wet, severity: critical }
        """

    func start(environment: [String: String], config: String? = nil, profile text: String = Self.profile) throws -> Daemon {
        let profile = directory.appendingPathComponent("profile.yaml")
        try text.write(to: profile, atomically: true, encoding: .utf8)
        var arguments = ["run", "--profile", profile.path, "--data-dir", data]
        if let config {
            let path = directory.appendingPathComponent("agent.yaml")
            try config.write(to: path, atomically: true, encoding: .utf8)
            arguments += ["--config", path.path]
        }
        return try Daemon(arguments: arguments, environment: ["EDGE_AGENT_CONFIG": "", "NOTIFY_SOCKET": ""].merging(environment) { $1 },
                          logURL: directory.appendingPathComponent("agent.log"))
    }

    func token(mode: Int) throws -> String {
        let path = directory.appendingPathComponent("token").path
        FileManager.default.createFile(atPath: path, contents: Data("device-token-0123456789".utf8), attributes: [.posixPermissions: mode])
        return path
    }

    /// `status --json`: the exit code and the report.
    func status(config: String? = nil) throws -> (code: Int32, report: [String: Any]) {
        let out = try AgentBinary.run(["status", "--json", "--data-dir", data] + (config.map { ["--config", $0] } ?? []),
                                      environment: ["EDGE_AGENT_CONFIG": ""])
        return (out.status, (try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]) ?? [:])
    }

    func storedReadings() throws -> Int {
        let out = try AgentBinary.run(["readings", "dump", "--data-dir", data, "--format", "json"], environment: ["EDGE_AGENT_CONFIG": ""])
        return ((try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8))) as? [Any])?.count ?? 0
    }

    @Test func sigtermWhileTheServerNeverAnswersStopsWithinTwoSeconds() async throws {
        let listener = try SilentListener()
        defer { listener.stop() }
        let daemon = try start(environment: [
            "EDGE_AGENT_SYNC_URL": "https://127.0.0.1:\(listener.port)", "EDGE_AGENT_SYNC_TOKEN_FILE": try token(mode: 0o600),
        ])
        #expect(await Daemon.eventually(timeout: .seconds(30)) { listener.bytes > 0 }, "\(daemon.log)")
        // The first batch is in flight: libcurl waits for a TLS answer that never comes.
        try await Task.sleep(for: .milliseconds(500))
        let start = ContinuousClock.now
        daemon.signal(SIGTERM)
        let status = await daemon.wait(timeout: .seconds(10))
        let elapsed = ContinuousClock.now - start
        #expect(status == 0, "\(daemon.log)")
        #expect(elapsed < .seconds(2), "stopping took \(elapsed)")
    }

    @Test func aTokenFileOthersCanReadDisablesSyncAndNothingElse() async throws {
        let tokenPath = try token(mode: 0o644)
        let daemon = try start(environment: ["EDGE_AGENT_SYNC_URL": "https://127.0.0.1:9", "EDGE_AGENT_SYNC_TOKEN_FILE": tokenPath])
        let expected = "sync disabled: token file \(tokenPath) has mode 644; others could read the device's token. Run `chmod 600 \(tokenPath)`"
        var last: (code: Int32, report: [String: Any]) = (0, [:])
        let reported = try await Daemon.eventually(timeout: .seconds(30)) {
            last = try status()
            return (last.report["reasons"] as? [String])?.contains(expected) == true
        }
        #expect(reported, "\(last.report) \(daemon.log)")
        #expect(last.code == 1)
        #expect(last.report["status"] as? String == "degraded")
        let before = try storedReadings()
        try await Task.sleep(for: .seconds(1))
        #expect(try storedReadings() > before, "polling stopped")
        #expect(daemon.process.isRunning)
        #expect(daemon.log.contains("ERROR edge-agent: sync disabled error=token file \(tokenPath) has mode 644"), "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0)
    }

    @Test func aSyncIntervalOf0DisablesSyncAndNothingElse() async throws {
        let tokenPath = try token(mode: 0o600)
        let config = "sync:\n  url: https://127.0.0.1:9\n  token_file: \(tokenPath)\n  interval: 0s\n"
        let daemon = try start(environment: [:], config: config)
        let file = directory.appendingPathComponent("agent.yaml").path
        let expected = "sync disabled: \(file):4:13: sync.interval: '0s' is out of range; allowed: 1s...1d"
        var last: (code: Int32, report: [String: Any]) = (0, [:])
        let reported = try await Daemon.eventually(timeout: .seconds(30)) {
            last = try status(config: file)
            return (last.report["reasons"] as? [String])?.contains(expected) == true
        }
        #expect(reported, "\(last.report) \(daemon.log)")
        #expect(last.code == 1)
        let before = try storedReadings()
        try await Task.sleep(for: .seconds(1))
        #expect(try storedReadings() > before, "polling stopped")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")
    }

    @Test func aPasswordInTheSyncURLIsNeitherLoggedNorShown() async throws {
        let daemon = try start(environment: [
            "EDGE_AGENT_SYNC_URL": "https://reef:hunter2@127.0.0.1:9", "EDGE_AGENT_SYNC_TOKEN_FILE": try token(mode: 0o600),
        ])
        #expect(await Daemon.eventually(timeout: .seconds(30)) { (try? status().report["status"]) != nil })
        let text = try AgentBinary.run(["status", "--data-dir", data],
                                       environment: ["EDGE_AGENT_CONFIG": "", "EDGE_AGENT_SYNC_URL": "https://reef:hunter2@127.0.0.1:9"])
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0)
        #expect(text.stdout.contains("sync:      https://***@127.0.0.1:9"), "\(text.stdout)")
        #expect(!text.stdout.contains("hunter2") && !text.stderr.contains("hunter2"))
        #expect(daemon.log.contains("https://***@127.0.0.1:9"), "\(daemon.log)")
        #expect(!daemon.log.contains("hunter2"))
    }

    /// `status --json` shows the alert events waiting to sync, as the text does: the leak's
    /// `fired` event, which the unreachable server never acknowledges.
    @Test func statusShowsTheEventBacklogInJSONAsInText() async throws {
        let daemon = try start(environment: [
            "EDGE_AGENT_SYNC_URL": "https://127.0.0.1:9", "EDGE_AGENT_SYNC_TOKEN_FILE": try token(mode: 0o600),
        ], profile: Self.leakProfile)
        var last: (code: Int32, report: [String: Any]) = (0, [:])
        let reported = try await Daemon.eventually(timeout: .seconds(30)) {
            last = try status()
            return last.report["eventBacklogRows"] as? Int == 1
        }
        #expect(reported, "\(last.report) \(daemon.log)")
        let text = try AgentBinary.run(["status", "--data-dir", data],
                                       environment: ["EDGE_AGENT_CONFIG": "", "EDGE_AGENT_SYNC_URL": "https://127.0.0.1:9"])
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")
        #expect(text.stdout.contains("alerts:    1 firing   1 alert events waiting to sync\n"), "\(text.stdout)")
    }
}
