import EdgeCore
import EdgeTesting
import Foundation
import Readings
import Testing
@testable import edge_agent

/// The health report's level from the agent's problems: what the fleet server is told.
@Suite struct HealthReporterTests {
    func report(problems: [String], critical: [String]) throws -> (status: String, reasons: [String]) {
        let directory = try TemporaryDirectory("health")
        let clock = SteppingClock()
        let database = try LocalDatabase.open(path: directory.databasePath, clock: clock)
        let readings = try ReadingWriter(database: database, clock: clock)
        let agent = AgentHealth(version: "test", startedAt: clock.now(), sensors: [], firingAlerts: 0,
                                problems: problems, criticalProblems: critical)
        let report = try HealthReporter(database: database, readings: readings.queries, clock: clock)
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

@Suite struct ProcessSampleTests {
    @Test func rssAndCPUTicksComeFromStatmAndStatPastTheCommandName() {
        let stat = "4242 (edge agent (x)) S 1 4242 4242 0 -1 4194304 1200 0 0 0 350 50 0 0 20 0 5 0 100 0"
        let sample = ProcessSample.parse(statm: "5000 1234 300 10 0 900 0\n", stat: stat, pageSize: 4096, bootNanos: 2_000_000_000)
        #expect(sample == ProcessSample(rssBytes: 1234 * 4096, cpuTicks: 400, bootNanos: 2_000_000_000))
        let later = ProcessSample(rssBytes: 0, cpuTicks: 450, bootNanos: 4_000_000_000)
        #expect(later.cpuPercent(since: sample!, ticksPerSecond: 100) == 25)
    }
}
