@testable import AlertEngine
import EdgeCore
import EdgeTesting
import Foundation
import Notify
import NotifyDelivery
import Readings
import Testing
import Wire
@testable import edge_agent

/// The health report counts each notify target's delivery from the ledger, and a target whose
/// messages were refused, or that has failed for longer than the bound, degrades the device
/// with a reason naming it.
@Suite struct NotifyHealthTests {
    let directory: TemporaryDirectory
    let clock = ManualDeviceClock()
    let database: LocalDatabase
    let stores: StoreQueries
    var start: Int64 { ManualDeviceClock().now().unixMillis }

    init() throws {
        directory = try TemporaryDirectory("notify-health")
        database = try LocalDatabase.open(path: directory.databasePath, clock: clock)
        let readings = try ReadingWriter(database: database, clock: clock)
        stores = StoreQueries(database: database, readings: readings.queries, alerts: try AlertStore(writer: database.writer))
    }

    func events(_ count: Int) throws {
        try database.writer.write { db in
            for i in 0 ..< count {
                var record = AlertEventRecord(WireAlertEvent(
                    sequence: 0, ruleID: "temp-high", sensorID: "tank_temp", kind: i % 2 == 0 ? .fired : .resolved, severity: .critical,
                    value: 29, threshold: 28, timestampMillis: start + Int64(i) * 1_000, activeSinceMillis: nil, message: "m", silenced: false))
                try record.insert(db)
            }
        }
    }

    static func notify(_ ids: [String], problems: [String] = []) -> AgentConfig.Notify {
        AgentConfig.Notify(targets: ids.map { NotifyTarget(id: $0, kind: .ntfy, url: "https://ntfy.sh/\($0)") }, problems: problems)
    }

    func refresh(_ monitor: HealthMonitor) throws -> HealthReport {
        try monitor.refresh(agent: AgentHealth(version: "t", startedAt: clock.now(), sensors: [], firingAlerts: 0), stores: stores)
    }

    @Test func noTargetsNoField() throws {
        #expect(try refresh(HealthMonitor(clock: clock, syncConfigured: false)).notify == nil)
    }

    @Test func countsPerTargetAndADeadLetterDegrades() throws {
        try events(4)
        let ledger = try NotifyLedger(writer: database.writer)
        try ledger.register(target: "phone", startAfter: 0)
        try ledger.recordDelivery(target: "phone", range: SequenceRange(first: 1, last: 1), events: 1, nowMillis: start + 1_000)
        try ledger.recordDeadLetter(target: "phone", range: SequenceRange(first: 2, last: 2), status: 400, reason: "invalid topic",
                                    nowMillis: start + 2_000, nextAttemptMillis: nil)
        try ledger.register(target: "mail", startAfter: 4)
        clock.advance(by: .seconds(60))
        let report = try refresh(HealthMonitor(clock: clock, syncConfigured: false, notify: Self.notify(["phone", "mail", "spare"])))
        #expect(report.notify == [
            NotifyTargetHealth(target: "phone", sent: 1, retried: 0, dead: 1, pending: 2, oldestPendingAgeSeconds: 58),
            NotifyTargetHealth(target: "mail", sent: 0, retried: 0, dead: 0, pending: 0, oldestPendingAgeSeconds: nil),
        ], "a target the daemon has not started ('spare') has nothing to count")
        #expect(report.status == .degraded)
        #expect(report.reasons == [
            "notify target 'phone': 1 message refused by the service; see `edge-agent notify status`, then `edge-agent notify requeue phone`",
        ])
    }

    @Test func aTargetLeftOutForAConfigProblemDegrades() throws {
        let problem = "/etc/edge-agent/agent.yaml:9:11: notify[1].kind: 'pager' is not a kind; use ntfy, webhook, telegram, pushover, email"
        let report = try refresh(HealthMonitor(clock: clock, syncConfigured: false, notify: Self.notify(["phone"], problems: [problem])))
        #expect(report.status == .degraded)
        #expect(report.reasons == ["a notify target is left out: \(problem)"])
        #expect(report.notify == [], "phone has no cursor yet")
    }

    @Test func aTargetFailingLongerThanTheBoundDegrades() throws {
        try events(2)
        let ledger = try NotifyLedger(writer: database.writer)
        try ledger.register(target: "phone", startAfter: 0)
        try ledger.recordFailure(target: "phone", reason: "HTTP 503: Service Unavailable", nowMillis: start + 5_000,
                                 nextAttemptMillis: start + 65_000)
        let monitor = HealthMonitor(clock: clock, syncConfigured: false, notify: Self.notify(["phone"]))
        clock.advance(by: HealthAssessment.notifyFailing)
        let within = try refresh(monitor)
        #expect(within.status == .healthy, "the oldest event has waited exactly the bound")
        #expect(within.notify?.first?.retried == 1)
        clock.advance(by: .seconds(300))
        let beyond = try refresh(monitor)
        #expect(beyond.status == .degraded)
        #expect(beyond.reasons == ["notify target 'phone' failing for 20 min (2 events waiting): HTTP 503: Service Unavailable"])
    }
}

@Suite struct NotifyStatusLineTests {
    @Test func oneLinePerTargetAndOffWithoutTargets() {
        #expect(StatusCommand.renderNotify(nil) == "notify:    off (no notify: targets in the config)\n")
        #expect(StatusCommand.renderNotify([]) == "notify:    not started yet\n")
        #expect(StatusCommand.renderNotify([
            NotifyTargetHealth(target: "phone", sent: 12, retried: 3, dead: 2, pending: 4, oldestPendingAgeSeconds: 90.4),
            NotifyTargetHealth(target: "mail", sent: 1, retried: 0, dead: 0, pending: 0, oldestPendingAgeSeconds: nil),
        ]) == """
            notify:    phone: sent 12, retried 3, pending 4 (oldest 1m30s)   2 dead letters (edge-agent notify status)
                       mail: sent 1, retried 0, pending 0

            """)
    }
}
