import Foundation
import Logging
import NotifyDelivery
import PostgresNIO
import Wire

/// Puts a job on the queue inside the caller's transaction (the queue's insert; tests may
/// record the jobs instead).
public typealias JobInsert = @Sendable (NewJob, PostgresConnection) async throws -> Void

/// The duty that turns groups that fell due (`GroupSchedule`) into one `notify` job each:
/// the waiting notices (at most `maxNotices`, oldest first; the rest wait for the next
/// flush) or, for a repeat, the group's still-firing alerts. The job's arguments and unique
/// key are fixed here, in the same transaction that marks the notices flushed, so a crash
/// either sends them in this flush or leaves them waiting.
public struct NotificationFlusher: PeriodicDuty {
    public let name = "notification-flush"
    public let lockKey: Int64 = 7_270_214
    public let interval: Duration
    let settings: NotificationSettings
    let insert: JobInsert
    let logger: Logger
    /// A flush whose job has not reported back for this long (its ledger write lost) no
    /// longer holds the group back.
    let inFlightLimitMillis: Int64
    let maxNotices: Int

    public init(settings: NotificationSettings, insert: @escaping JobInsert, logger: Logger, interval: Duration = .seconds(1),
                inFlightLimit: Duration = .seconds(3600), maxNotices: Int = 200) {
        self.settings = settings
        self.insert = insert
        self.logger = logger
        self.interval = interval
        inFlightLimitMillis = inFlightLimit.saturatingMillis
        self.maxNotices = maxNotices
    }

    public func run(on connection: PostgresConnection) async throws {
        _ = try await flush(on: connection, nowMillis: try await NotificationOutbox.nowMillis(on: connection))
    }

    /// Flushes every due group at `nowMillis` (the database's clock in service; tests choose).
    /// Returns the jobs inserted.
    @discardableResult
    public func flush(on connection: PostgresConnection, nowMillis: Int64) async throws -> [NotifyJobArgs] {
        let routes = Dictionary(try await NotificationRouteStore(settings: settings, logger: logger).all(on: connection)
            .map { ($0.route.id, $0.route) }, uniquingKeysWith: { first, _ in first })
        let rows = try await connection.query("""
            SELECT id, route_id, receiver, group_key, group_labels::text, pending_since_ms, last_flush_ms, flushes,
                   in_flight_since_ms, firing::text
            FROM notify_groups WHERE pending_since_ms IS NOT NULL OR firing <> '[]'::jsonb
            ORDER BY id FOR UPDATE SKIP LOCKED
            """, logger: logger)
        var groups: [Group] = []
        for try await row in rows.decode((Int64, String, String, String, String, Int64?, Int64?, Int64, Int64?, String).self) {
            groups.append(Group(id: row.0, route: row.1, receiver: row.2, key: row.3, labels: NotificationOutbox.labels(row.4),
                                pendingSince: row.5, lastFlush: row.6, flushes: row.7, inFlightSince: row.8,
                                firing: (try? JSONDecoder().decode([FleetNotice].self, from: Data(row.9.utf8))) ?? []))
        }
        var sent: [NotifyJobArgs] = []
        for group in groups {
            let (wait, every, again) = (routes[group.route] ?? NotificationRoute(id: group.route, receivers: [])).timing(settings.defaults)
            let inFlight = group.inFlightSince.map { nowMillis - $0 < inFlightLimitMillis } ?? false
            let decision = GroupSchedule.decide(
                pendingSinceMillis: group.pendingSince, lastFlushMillis: group.lastFlush, firing: group.firing.count, inFlight: inFlight,
                timing: .init(groupWaitSeconds: wait, groupIntervalSeconds: every, repeatIntervalSeconds: again), nowMillis: nowMillis)
            switch decision {
            case .wait: continue
            case .flush: sent.append(try await flush(group, nowMillis: nowMillis, on: connection))
            case .repeatFiring: sent.append(try await send(group, notices: group.firing, firing: group.firing, more: false, nowMillis: nowMillis, on: connection))
            }
        }
        return sent
    }

    struct Group {
        var id: Int64
        var route: String
        var receiver: String
        var key: String
        var labels: [String: String]
        var pendingSince: Int64?
        var lastFlush: Int64?
        var flushes: Int64
        var inFlightSince: Int64?
        var firing: [FleetNotice]
    }

    private func flush(_ group: Group, nowMillis: Int64, on connection: PostgresConnection) async throws -> NotifyJobArgs {
        let number = group.flushes + 1
        let rows = try await connection.query("""
            WITH picked AS (
                SELECT id FROM notify_outbox WHERE group_id = \(group.id) AND flushed IS NULL ORDER BY id LIMIT \(maxNotices + 1))
            SELECT id, notice::text FROM notify_outbox WHERE id IN (SELECT id FROM picked) ORDER BY id
            """, logger: logger)
        var ids: [Int64] = []
        var notices: [FleetNotice] = []
        for try await (id, json) in rows.decode((Int64, String).self) {
            ids.append(id)
            notices.append(try JSONDecoder().decode(FleetNotice.self, from: Data(json.utf8)))
        }
        let more = ids.count > maxNotices
        ids = Array(ids.prefix(maxNotices))
        notices = Array(notices.prefix(maxNotices))
        try await connection.query("UPDATE notify_outbox SET flushed = \(number) WHERE id = ANY(\(ids)::int8[])", logger: logger)
        return try await send(group, notices: notices, firing: Self.firing(after: notices, before: group.firing), more: more,
                              nowMillis: nowMillis, on: connection)
    }

    private func send(_ group: Group, notices: [FleetNotice], firing: [FleetNotice], more: Bool, nowMillis: Int64,
                      on connection: PostgresConnection) async throws -> NotifyJobArgs {
        let number = group.flushes + 1
        let args = NotifyJobArgs(receiver: group.receiver, route: group.route, groupID: group.id, flush: number, groupKey: group.key,
                                 groupLabels: group.labels, notices: notices)
        try await insert(args.newJob, connection)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let firingJSON = String(decoding: try encoder.encode(firing), as: UTF8.self)
        // All resolved: the group starts over, as Alertmanager drops an empty aggregation group.
        let lastFlush: Int64? = firing.isEmpty && !more ? nil : nowMillis
        let pending: Int64? = more ? nowMillis : nil
        try await connection.query("""
            UPDATE notify_groups SET flushes = \(number), last_flush_ms = \(lastFlush), pending_since_ms = \(pending),
                in_flight = \(args.uniqueKey), in_flight_since_ms = \(nowMillis), firing = \(firingJSON)::jsonb
            WHERE id = \(group.id)
            """, logger: logger)
        logger.debug("notification group flushed", metadata: [
            "group": "\(group.key)", "receiver": "\(group.receiver)", "notices": "\(notices.count)", "flush": "\(number)",
        ])
        return args
    }

    /// What still fires after `notices`: by (device, rule, sensor), a fired or flapping
    /// notice opens, a resolution closes.
    static func firing(after notices: [FleetNotice], before: [FleetNotice]) -> [FleetNotice] {
        func identity(_ notice: FleetNotice) -> String {
            [notice.device, notice.event.ruleID, notice.event.sensorID].joined(separator: "\u{0}")
        }
        var order = before.map(identity)
        var open = Dictionary(before.map { (identity($0), $0) }, uniquingKeysWith: { _, last in last })
        for notice in notices {
            let id = identity(notice)
            switch notice.event.kind {
            case .fired, .flapping:
                if !order.contains(id) { order.append(id) }
                open[id] = notice
            case .resolved, .flappingEnded:
                open[id] = nil
            default: break
            }
        }
        return order.compactMap { open[$0] }
    }
}
