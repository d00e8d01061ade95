import EdgeCore
import EdgeTesting
import Foundation
import Readings
import Sync
import Testing

/// The health report's level from the agent's problems: what the fleet server is told.
@Suite struct HealthReporterTests {
    func report(problems: [String], critical: [String]) throws -> (status: String, reasons: [String]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("health-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = SteppingClock()
        let database = try LocalDatabase.open(path: directory.appendingPathComponent("db.sqlite").path, clock: clock)
        let readings = try ReadingStore(database: database, clock: clock)
        let agent = AgentHealth(version: "test", startedAt: clock.now(), sensors: [], firingAlerts: 0,
                                problems: problems, criticalProblems: critical)
        let report = try HealthReporter(database: database, readings: readings, clock: clock)
            .report(agent: agent, now: clock.now(), sync: nil)
        return (report.status.rawValue, report.reasons)
    }

    @Test func aProblemDegradesAndAStorageProblemMakesTheReportUnhealthy() throws {
        #expect(try report(problems: [], critical: []) == ("healthy", []))
        #expect(try report(problems: ["sync disabled: x"], critical: []) == ("degraded", ["sync disabled: x"]))
        // What sync sends carries the same level as health.json: a damaged database is unhealthy.
        #expect(try report(problems: ["sync disabled: x"], critical: ["storage is down: disk I/O error"])
                == ("unhealthy", ["storage is down: disk I/O error", "sync disabled: x"]))
    }
}
