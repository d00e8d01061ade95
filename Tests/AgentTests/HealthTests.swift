import AlertEngine
import EdgeCore
import EdgeTesting
import Foundation
import Readings
import Sync
import Testing
import Wire
@testable import edge_agent

/// The health rules as a table: facts in, status and reasons out (`HealthAssessment` is pure).
@Suite struct HealthAssessmentTests {
    static let now = DeviceTime(unixMillis: 1_767_225_600_000, bootNanos: 100_000_000_000, synchronized: true)

    static func sensor(_ id: String, _ state: SensorHealth.State, error: String? = nil) -> SensorHealth {
        SensorHealth(id: id, state: state, errorCount: error == nil ? 0 : 1, errorsByKind: [:], lastError: error,
                     lastReadingAgeSeconds: nil)
    }

    static func facts(sensors: [SensorHealth] = [sensor("tank", .ok)], problems: [String] = [], critical: [String] = [],
                      store: HealthFacts.StoreFacts? = .init(databaseBytes: 4096, backlogRows: 0, backlogOldestMillis: nil,
                                                             drops: [], clockHold: nil)) -> HealthFacts {
        HealthFacts(agent: AgentHealth(version: "t", startedAt: DeviceTime(unixMillis: 0, bootNanos: 40_000_000_000, synchronized: true),
                                       sensors: sensors, firingAlerts: 2, problems: problems, criticalProblems: critical),
                    now: now, bootID: "b", store: store, sync: nil, rssBytes: 7, cpuPercent: 1.5)
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var facts: HealthFacts
        var status: HealthReport.Status
        var reasons: [String]
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "all well", facts: facts(), status: .healthy, reasons: []),
        Row(name: "an agent problem degrades", facts: facts(problems: ["sync disabled: x"]), status: .degraded,
            reasons: ["sync disabled: x"]),
        Row(name: "a storage problem is unhealthy, listed first",
            facts: facts(problems: ["sync disabled: x"], critical: ["storage is down: disk I/O error"]), status: .unhealthy,
            reasons: ["storage is down: disk I/O error", "sync disabled: x"]),
        Row(name: "one failing sensor degrades",
            facts: facts(sensors: [sensor("tank", .ok), sensor("ph", .failing, error: "no device at 0x63")]),
            status: .degraded, reasons: ["sensor ph is failing: no device at 0x63"]),
        Row(name: "every sensor failing or stale is unhealthy",
            facts: facts(sensors: [sensor("tank", .stale), sensor("ph", .failing)]), status: .unhealthy,
            reasons: ["all 2 sensors are failing or stale"]),
        Row(name: "readings dropped before the server had them degrade",
            facts: facts(store: .init(databaseBytes: 1, backlogRows: 0, backlogOldestMillis: nil, drops: [
                DropCount(sensorID: "tank", reason: .budgetUnsynced, count: 12, firstMillis: 1, lastMillis: 2),
                DropCount(sensorID: "tank", reason: .age, count: 99, firstMillis: 1, lastMillis: 2),
            ], clockHold: nil)),
            status: .degraded, reasons: ["12 readings were dropped for space before the server had them"]),
        Row(name: "storage down: no store figures, the critical problem says why",
            facts: facts(critical: ["storage is down: read-only file system"], store: nil), status: .unhealthy,
            reasons: ["storage is down: read-only file system"]),
    ]

    @Test(arguments: rows) func statusAndReasons(_ row: Row) {
        let report = HealthAssessment.report(row.facts, staleBacklog: .seconds(3_600))
        #expect(report.status == row.status)
        #expect(report.reasons == row.reasons)
        #expect(report.uptimeSeconds == 60)
        #expect(report.firingAlerts == 2)
        #expect(report.databaseBytes == (row.facts.store?.databaseBytes ?? 0))
    }
}

/// The daemon's monitor: one builder, the latest report kept for the file and Sync, one CPU
/// window between refreshes, the backlog counted once.
@Suite struct HealthMonitorTests {
    @Test func latestIsWhatTheLastRefreshBuiltAndABrokenRefreshKeepsIt() throws {
        let directory = try TemporaryDirectory("health")
        let clock = ManualDeviceClock()
        let database = try LocalDatabase.open(path: directory.databasePath, clock: clock)
        let readings = try ReadingWriter(database: database, clock: clock)
        let stores = StoreQueries(database: database, readings: readings.queries, alerts: try AlertStore(writer: database.writer))
        for i in 0 ..< 5 {
            try readings.append(Sample(sensorID: "tank", value: 25 + Double(i), unit: "°C", quality: .ok, time: clock.now()))
        }
        try readings.flush()
        let monitor = HealthMonitor(clock: clock, syncConfigured: false)
        #expect(monitor.latestReport() == nil)

        let agent = AgentHealth(version: "t", startedAt: clock.now(), sensors: [], firingAlerts: 0)
        clock.advance(by: .seconds(5))
        let first = try monitor.refresh(agent: agent, stores: stores)
        #expect(monitor.latestReport() == first)
        #expect(first.backlogRows == 5)   // no server: every reading is backlog, counted once
        #expect(first.uptimeSeconds == 5)
        #expect(first.cpuPercent == 0)    // no earlier sample: no window yet
        #expect(first.rssBytes > 0)

        clock.advance(by: .seconds(5))
        let second = try monitor.refresh(agent: agent, stores: nil)
        #expect(monitor.latestReport() == second)
        #expect(second.status == .unhealthy || second.status == .healthy)
        #expect(second.backlogRows == 0 && second.databaseBytes == 0)
        #expect(second.takenAtMillis == first.takenAtMillis + 5_000)
        #expect(second.syncIntervalSeconds == nil)  // no sync: nothing to judge silence by
    }

    /// The fleet server counts a device offline after max(5 min, 3 × its sync interval): the
    /// report says the interval, and the wire refuses one the agent could not have.
    @Test func theReportCarriesTheSyncIntervalForOfflineDetection() throws {
        let clock = ManualDeviceClock()
        let monitor = HealthMonitor(clock: clock, syncConfigured: false, syncInterval: .milliseconds(2_500))
        let report = try monitor.refresh(agent: AgentHealth(version: "t", startedAt: clock.now(), sensors: [], firingAlerts: 0), stores: nil)
        #expect(report.syncIntervalSeconds == 2.5)
        #expect(report.validationError(encodedBytes: 100) == nil)
        var broken = report
        broken.syncIntervalSeconds = 0
        #expect(broken.validationError(encodedBytes: 100) == "health.syncIntervalSeconds is 0.0; the agent syncs every 1 s to 1 day")
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
