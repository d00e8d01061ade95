import Foundation
import Logging
import NotifyDelivery
import PostgresNIO

/// The duty that notices silent devices: a device whose last batch is older than its
/// threshold (`OfflineThreshold`) gets one `device_offline` notice per episode, through the
/// same outbox, routes and grouping as alerts (so a site's outage can be one message). The
/// episode stays open in `devices.offline_since_ms` until the device's next batch, which
/// raises one `device_back` (`NotificationOutbox.ingest`). A device in maintenance (by its
/// newest maintenance event, or a health report saying so) raises nothing.
public struct DeviceOfflineDetector: PeriodicDuty {
    public let name = "device-offline"
    public let lockKey: Int64 = 7_270_215
    public let interval: Duration
    let outbox: NotificationOutbox
    let defaults: NotificationDefaults
    let logger: Logger

    public init(settings: NotificationSettings, logger: Logger, interval: Duration = .seconds(15)) {
        outbox = NotificationOutbox(settings: settings, logger: logger)
        defaults = settings.defaults
        self.logger = logger
        self.interval = interval
    }

    public func run(on connection: PostgresConnection) async throws {
        _ = try await detect(on: connection, nowMillis: try await NotificationOutbox.nowMillis(on: connection))
    }

    /// Opens an episode for every device silent past its threshold at `nowMillis`; returns
    /// their names.
    @discardableResult
    public func detect(on connection: PostgresConnection, nowMillis: Int64) async throws -> [String] {
        let rows = try await connection.query("""
            SELECT id, name, labels::text, (extract(epoch FROM last_seen) * 1000)::int8, offline_after_seconds,
                   last_health->>'syncIntervalSeconds'
            FROM devices
            WHERE last_seen IS NOT NULL AND offline_since_ms IS NULL AND NOT in_maintenance
              AND (last_health->>'maintenance') IS DISTINCT FROM 'true'
            ORDER BY id FOR UPDATE SKIP LOCKED
            """, logger: logger)
        var silent: [(id: Int64, name: String, labels: [String: String], lastSeen: Int64, threshold: Int)] = []
        for try await (id, name, labels, lastSeen, override, interval) in rows.decode((Int64, String, String, Int64, Int?, String?).self) {
            let threshold = OfflineThreshold.seconds(override: override, syncIntervalSeconds: interval.flatMap(Double.init),
                                                     defaultSeconds: defaults.offlineAfterSeconds)
            if nowMillis - lastSeen >= Int64(threshold) * 1000 {
                silent.append((id, name, NotificationOutbox.labels(labels), lastSeen, threshold))
            }
        }
        for device in silent {
            try await connection.query("UPDATE devices SET offline_since_ms = \(nowMillis) WHERE id = \(device.id)", logger: logger)
            let event = FleetMessage.offline(lastSeenMillis: device.lastSeen, thresholdSeconds: device.threshold, atMillis: nowMillis)
            try await outbox.enqueue([("offline/\(device.id)/\(nowMillis)", FleetNotice(device: device.name, event: event))],
                                     labels: device.labels, on: connection)
            logger.notice("device offline", metadata: ["device": "\(device.name)", "thresholdSeconds": "\(device.threshold)"])
        }
        return silent.map(\.name)
    }
}
