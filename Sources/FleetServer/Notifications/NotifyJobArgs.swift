import Foundation
import NotifyDelivery
import Wire

/// The arguments of a `notify` job, fixed when the flusher (or a receiver test) inserts it, so
/// every attempt sends exactly the same message under the same idempotency key. JSON, keys as
/// below (documented in docs/NOTIFICATIONS.md, "Grouping"):
///
/// ```json
/// {"receiver": "ops-hook", "route": "tanks", "groupID": 12, "flush": 3,
///  "groupKey": "{}/{route=\"tanks\"}:{site=\"garage\"}", "groupLabels": {"site": "garage"},
///  "notices": [{"device": "reef-1", "event": {…a WireAlertEvent…}}]}
/// ```
///
/// A receiver test has `"route": ""`, `"groupID": 0`, no notices and `"testAtMillis"`.
/// Credentials are never here: the handler reads the receiver's credential file at send time.
public struct NotifyJobArgs: Codable, Sendable, Hashable {
    public var receiver: String
    public var route: String
    /// The `notify_groups` row this flush belongs to (0: none, a test); its next flush waits
    /// until this job finished.
    public var groupID: Int64
    /// The group's flush number, part of the job's unique key.
    public var flush: Int64
    public var groupKey: String
    public var groupLabels: [String: String]
    public var notices: [FleetNotice]
    public var testAtMillis: Int64?

    public init(receiver: String, route: String, groupID: Int64, flush: Int64, groupKey: String, groupLabels: [String: String],
                notices: [FleetNotice], testAtMillis: Int64? = nil) {
        self.receiver = receiver
        self.route = route
        self.groupID = groupID
        self.flush = flush
        self.groupKey = groupKey
        self.groupLabels = groupLabels
        self.notices = notices
        self.testAtMillis = testAtMillis
    }

    /// The job kind every notification is.
    public static let kind = "notify"

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, numbers, booleans and arrays of them: encoding cannot fail.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    public static func decode(_ json: String) throws -> NotifyJobArgs {
        try JSONDecoder().decode(NotifyJobArgs.self, from: Data(json.utf8))
    }

    /// What the job sends.
    public var message: FleetMessage {
        FleetMessage(groupKey: groupKey, groupLabels: groupLabels,
                     content: testAtMillis.map { .test(atMillis: $0) } ?? .notices(notices))
    }

    /// The job's unique key: one job per flush of a group to a receiver, or per test.
    public var uniqueKey: String {
        testAtMillis.map { "notify/test/\(receiver)/\($0)" } ?? "notify/\(groupID)/\(receiver)/\(flush)"
    }

    /// Critical firing first, then other firing, then resolutions and tests (lower runs first).
    public var priority: Int {
        let events = notices.map(\.event)
        if events.contains(where: { $0.severity == .critical && $0.kind != .resolved && $0.kind != .flappingEnded }) { return 0 }
        if events.contains(where: { $0.kind != .resolved && $0.kind != .flappingEnded }) { return 1 }
        return 2
    }

    public var newJob: NewJob {
        NewJob(kind: Self.kind, receiver: receiver, args: json, uniqueKey: uniqueKey, priority: priority)
    }
}
