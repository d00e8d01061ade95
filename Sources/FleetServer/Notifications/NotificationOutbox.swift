import Foundation
import Logging
import NotifyDelivery
import PostgresNIO
import Wire

/// The transactional outbox: inside the transaction that stores a batch (or raises an
/// offline notice), each new notice × each matching route × each of its receivers becomes one
/// `notify_outbox` row in its group, unique per (event, group), so a batch sent again adds
/// nothing. The flusher (`NotificationFlusher`) later turns a group's rows into one job.
///
/// Only `NotificationOutbox` writes `notify_outbox`, `notify_groups`' pending state and the
/// devices' notification columns (labels, offline episode, maintenance).
public struct NotificationOutbox: Sendable {
    let settings: NotificationSettings
    let logger: Logger

    public init(settings: NotificationSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// What the ingest transaction knows of a device, read with the row locked, so the offline
    /// detector and a batch never both decide about one episode.
    struct DeviceState {
        var id: Int64
        var name: String
        var labels: [String: String]
        var inMaintenance: Bool
        var offlineSinceMillis: Int64?
    }

    /// Called by the ingest transaction with the events that were new in this batch (none
    /// when it was sent before): tracks maintenance through the batch's maintenance events,
    /// closes an open offline episode with one `device_back`, and enqueues every event not
    /// silenced and not recorded in maintenance.
    func ingest(newEvents: [WireAlertEvent], store: String, device: Int64, on connection: PostgresConnection) async throws {
        guard var state = try await lockDevice(device, on: connection) else { return }
        var notices: [(key: String, notice: FleetNotice)] = []
        let wasInMaintenance = state.inMaintenance
        if let since = state.offlineSinceMillis {
            let now = try await Self.nowMillis(on: connection)
            try await connection.query("UPDATE devices SET offline_since_ms = NULL WHERE id = \(device)", logger: logger)
            if !state.inMaintenance {
                notices.append(("back/\(device)/\(since)",
                                FleetNotice(device: state.name, event: FleetMessage.back(offlineSinceMillis: since, atMillis: now))))
            }
        }
        for event in newEvents.sorted(by: { $0.sequence < $1.sequence }) {
            switch event.kind {
            case .maintenanceStarted: state.inMaintenance = true
            case .maintenanceEnded: state.inMaintenance = false
            default:
                if !event.silenced, !state.inMaintenance {
                    notices.append(("event/\(device)/\(store)/\(event.sequence)", FleetNotice(device: state.name, event: event)))
                }
            }
        }
        if state.inMaintenance != wasInMaintenance {
            try await connection.query("UPDATE devices SET in_maintenance = \(state.inMaintenance) WHERE id = \(device)", logger: logger)
        }
        try await enqueue(notices, labels: state.labels, on: connection)
    }

    func lockDevice(_ id: Int64, on connection: PostgresConnection) async throws -> DeviceState? {
        let rows = try await connection.query("""
            SELECT name, labels::text, in_maintenance, offline_since_ms FROM devices WHERE id = \(id) FOR UPDATE
            """, logger: logger)
        for try await (name, labels, maintenance, since) in rows.decode((String, String, Bool, Int64?).self) {
            return DeviceState(id: id, name: name, labels: Self.labels(labels), inMaintenance: maintenance, offlineSinceMillis: since)
        }
        return nil
    }

    /// Each notice into the group of every route it matches, once per receiver. `key`
    /// identifies the notice (event, offline episode), so inserting it again does nothing.
    func enqueue(_ notices: [(key: String, notice: FleetNotice)], labels: [String: String], on connection: PostgresConnection) async throws {
        guard !notices.isEmpty else { return }
        let routes = try await NotificationRouteStore(settings: settings, logger: logger).all(on: connection).map(\.route)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for (key, notice) in notices {
            for route in routes where route.matches(notice.event, device: notice.device, labels: labels) {
                let group = route.group(device: notice.device, labels: labels)
                let groupLabels = String(decoding: try encoder.encode(group.labels), as: UTF8.self)
                let json = String(decoding: try encoder.encode(notice), as: UTF8.self)
                for receiver in route.receivers {
                    try await connection.query("""
                        WITH g AS (
                            INSERT INTO notify_groups (route_id, receiver, group_key, group_labels)
                            VALUES (\(route.id), \(receiver), \(group.key), \(groupLabels)::jsonb)
                            ON CONFLICT (route_id, receiver, group_key) DO UPDATE SET group_labels = EXCLUDED.group_labels
                            RETURNING id),
                        o AS (
                            INSERT INTO notify_outbox (group_id, event_key, notice) SELECT g.id, \(key), \(json)::jsonb FROM g
                            ON CONFLICT (group_id, event_key) DO NOTHING
                            RETURNING group_id)
                        UPDATE notify_groups SET pending_since_ms = COALESCE(pending_since_ms,
                            (extract(epoch FROM clock_timestamp()) * 1000)::int8)
                        WHERE id IN (SELECT group_id FROM o)
                        """, logger: logger)
                }
            }
        }
    }

    static func nowMillis(on connection: PostgresConnection) async throws -> Int64 {
        let rows = try await connection.query("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8", logger: Logger(label: "fleet"))
        for try await value in rows.decode(Int64.self) { return value }
        return 0
    }

    static func labels(_ json: String) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(json.utf8))) ?? [:]
    }
}
