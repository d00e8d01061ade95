import Foundation
import Testing
import Wire

/// The health report's notify counts travel with it, and a report from an agent before
/// notifications decodes with none.
@Suite struct HealthReportTests {
    static func report(notify: [NotifyTargetHealth]? = nil) -> HealthReport {
        HealthReport(takenAtMillis: 1, bootID: "b", version: "1", uptimeSeconds: 1, status: .degraded, reasons: ["r"],
                     clockSynchronized: true, sensors: [], databaseBytes: 0, backlogRows: 0, backlogOldestMillis: nil,
                     drops: [], deadLetteredBatches: 0, lastSyncMillis: nil, rssBytes: 0, cpuPercent: 0, firingAlerts: 0,
                     notify: notify)
    }

    @Test func notifyCountsRoundTrip() throws {
        let report = Self.report(notify: [
            NotifyTargetHealth(target: "phone", sent: 12, retried: 3, dead: 1, pending: 2, oldestPendingAgeSeconds: 58.5),
            NotifyTargetHealth(target: "mail", sent: 0, retried: 0, dead: 0, pending: 0, oldestPendingAgeSeconds: nil),
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(report.notify), as: UTF8.self)
        #expect(json == #"[{"dead":1,"oldestPendingAgeSeconds":58.5,"pending":2,"retried":3,"sent":12,"target":"phone"},"#
            + #"{"dead":0,"pending":0,"retried":0,"sent":0,"target":"mail"}]"#)
        #expect(try JSONDecoder().decode(HealthReport.self, from: try encoder.encode(report)) == report)
    }

    @Test func aReportFromAnAgentBeforeNotificationsHasNone() throws {
        var object = try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(Self.report())) as? [String: Any])
        #expect(object["notify"] == nil, "an absent field is left out, not written as null")
        object["notify"] = nil
        let decoded = try JSONDecoder().decode(HealthReport.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(decoded == Self.report())
        #expect(decoded.notify == nil)
    }
}
