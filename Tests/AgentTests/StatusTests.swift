import EdgeTesting
import Foundation
import Testing
import Wire
@testable import edge_agent
#if canImport(Glibc)
import Glibc
#endif

/// `edge-agent status` asks the kernel whether the daemon runs, and never shows a report
/// as current when it is not, nor "not running, 0 firing" when it is.
@Suite(.serialized) struct StatusTests {
    static func report(takenAt: Int64, firing: Int = 0, status: HealthReport.Status = .healthy, reasons: [String] = []) -> HealthReport {
        HealthReport(takenAtMillis: takenAt, bootID: "boot", version: "1", uptimeSeconds: 10, status: status, reasons: reasons,
                     clockSynchronized: true, sensors: [], databaseBytes: 0, backlogRows: 0, backlogOldestMillis: nil, drops: [],
                     deadLetteredBatches: 0, lastSyncMillis: nil, rssBytes: 0, cpuPercent: 0, firingAlerts: firing)
    }

    static let now: Int64 = 1_767_225_600_000
    static func fromDatabase() -> HealthReport { report(takenAt: now, reasons: ["from the database"]) }

    @Test func aRunningDaemonsFreshReportIsShownAsItIs() throws {
        let saved = Self.report(takenAt: Self.now - 4_000, firing: 1)
        #expect(try StatusCommand.assess(saved: saved, running: true, nowMillis: Self.now, firingAlerts: 1, current: Self.fromDatabase) == saved)
    }

    @Test func aRunningDaemonWithAStaleReportIsRunningWithItsFiringAlerts() throws {
        let saved = Self.report(takenAt: Self.now - 60_000, firing: 0)
        let shown = try StatusCommand.assess(saved: saved, running: true, nowMillis: Self.now, firingAlerts: 1, current: Self.fromDatabase)
        #expect(shown.status == .degraded)
        #expect(shown.firingAlerts == 1)
        #expect(shown.reasons == [
            "the agent is running but its last health report is 60 s old: it cannot write its health report (full or read-only disk?); see its log",
        ])
    }

    @Test func aStoppedDaemonIsStoppedHoweverRecentItsLastReport() throws {
        let saved = Self.report(takenAt: Self.now - 1_000, firing: 2, reasons: ["sensor ph is failing"])
        let shown = try StatusCommand.assess(saved: saved, running: false, nowMillis: Self.now, firingAlerts: 0, current: Self.fromDatabase)
        #expect(shown.status == .unhealthy)
        #expect(shown.firingAlerts == 0)
        #expect(shown.reasons == ["the agent is stopped (its last health report is 1 s old); the rest is from that report", "sensor ph is failing"])
        let none = try StatusCommand.assess(saved: nil, running: false, nowMillis: Self.now, firingAlerts: 0, current: Self.fromDatabase)
        #expect(none.reasons == ["the agent is stopped (it has written no health report)", "from the database"])
    }

    // MARK: - The real daemon

    let directory: URL
    var data: String { directory.appendingPathComponent("data").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("status-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    static let leakProfile = """
        name: status-test
        buses:
          - { id: gpio, kind: gpio, simulated: true }
          - { id: w1, kind: w1, simulated: true }
        sensors:
          - { id: tank_temp, driver: ds18b20, bus: w1, slave: 28-0000075a1b2c, interval: 200ms,
              simulation: { temperature: { constant: 25.5 } } }
          - { id: leak, driver: leak_switch, bus: gpio, line: GPIO27, interval: 200ms, simulation: { wet: { constant: 1 } } }
        alerts:
          - { id: leak, sensor: leak, switch: wet, severity: critical }
        """

    func start(environment: [String: String] = [:]) throws -> Daemon {
        let profile = directory.appendingPathComponent("profile.yaml")
        try Self.leakProfile.write(to: profile, atomically: true, encoding: .utf8)
        return try Daemon(arguments: ["run", "--profile", profile.path, "--data-dir", data],
                          environment: ["EDGE_AGENT_CONFIG": "", "NOTIFY_SOCKET": ""].merging(environment) { $1 },
                          logURL: directory.appendingPathComponent("agent.log"))
    }

    func status() throws -> (code: Int32, report: [String: Any]) {
        let out = try AgentBinary.run(["status", "--json", "--data-dir", data], environment: ["EDGE_AGENT_CONFIG": ""])
        return (out.status, (try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]) ?? [:])
    }

    @Test func statusRightAfterTheDaemonStoppedSaysItIsStopped() async throws {
        let daemon = try start()
        #expect(await Daemon.eventually(timeout: .seconds(30)) { (try? status().report["firingAlerts"] as? Int) == 1 }, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0)
        let (code, report) = try status()
        #expect(code == 2)
        #expect(report["status"] as? String == "unhealthy")
        let first = (report["reasons"] as? [String])?.first ?? ""
        #expect(first.hasPrefix("the agent is stopped (its last health report is "), "\(report)")
        #expect(report["firingAlerts"] as? Int == 1)
    }

    /// The data directory on a 4 MiB tmpfs, filled up while the daemon runs with a firing
    /// alert. Needs root for `mount`; skipped without it.
    @Test(.enabled(if: getuid() == 0)) func aFullDataDiskStillShowsARunningAgentAndItsFiringAlert() async throws {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let runtime = directory.appendingPathComponent("run").path
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
        let mount = try AgentBinary.shell("mount -t tmpfs -o size=4m tmpfs '\(data)'")
        try #require(mount.status == 0, "\(mount.stderr)")
        defer { _ = try? AgentBinary.shell("umount -l '\(data)'") }

        let daemon = try start(environment: ["RUNTIME_DIRECTORY": runtime])
        #expect(await Daemon.eventually(timeout: .seconds(30)) { (try? status().report["firingAlerts"] as? Int) == 1 }, "\(daemon.log)")
        _ = try AgentBinary.shell("dd if=/dev/zero of='\(data)/filler' bs=64k 2>/dev/null; true")
        #expect(try AgentBinary.shell("df --output=avail '\(data)' | tail -1").stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        // Past the 15 s after which a report that is not rewritten is stale.
        try await Task.sleep(for: .seconds(17))

        let (code, report) = try status()
        #expect(daemon.process.isRunning)
        #expect(report["firingAlerts"] as? Int == 1, "\(report)")
        let reasons = report["reasons"] as? [String] ?? []
        #expect(!reasons.contains { $0.contains("not running") || $0.contains("stopped") }, "\(reasons)")
        // Storage is down on a full disk, which makes it unhealthy; but it runs, and says so.
        #expect(code == 2 && report["status"] as? String == "unhealthy", "\(report)")
        print("full disk status: \(reasons)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: data + "/health.json")) == runtime + "/health.json")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")
    }
}

extension AgentBinary {
    /// Runs a shell command (test set-up: mount, dd, df).
    static func shell(_ command: String) throws -> Command.Output {
        try Command.run(URL(fileURLWithPath: "/bin/sh"), ["-c", command])
    }
}
