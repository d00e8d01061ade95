/// A device's health as it reports it: what a fleet operator needs to tell a dead probe
/// from a full disk from a week-long outage without logging into the Pi.
public struct HealthReport: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable, Hashable, CaseIterable {
        case healthy, degraded, unhealthy
    }

    public var takenAtMillis: Int64
    public var bootID: String
    public var version: String
    public var uptimeSeconds: Double
    public var status: Status
    /// Why the status is not healthy, one short sentence each.
    public var reasons: [String]
    public var clockSynchronized: Bool
    public var sensors: [SensorHealth]
    public var databaseBytes: Int64
    public var backlogRows: Int
    public var backlogOldestMillis: Int64?
    /// Alert events not yet acknowledged by the server; nil while sync is off (nothing waits
    /// to be sent) and from agents that did not report it.
    public var eventBacklogRows: Int?
    public var drops: [DropSummary]
    public var deadLetteredBatches: Int
    public var lastSyncMillis: Int64?
    public var rssBytes: Int64
    /// Percent of one core since the previous report.
    public var cpuPercent: Double
    public var firingAlerts: Int
    /// Each notification target's delivery counts, so the fleet sees a device whose alerts
    /// reach nobody; nil when no target is configured and from agents before notifications.
    public var notify: [NotifyTargetHealth]?
    /// How often the device syncs (agent.yaml `sync.interval`), so the fleet server can tell
    /// "silent" from "not due yet": it counts a device offline after max(5 min, 3 × this).
    /// nil without sync and from agents before it was reported.
    public var syncIntervalSeconds: Double?

    public init(takenAtMillis: Int64, bootID: String, version: String, uptimeSeconds: Double, status: Status,
                reasons: [String], clockSynchronized: Bool, sensors: [SensorHealth], databaseBytes: Int64,
                backlogRows: Int, backlogOldestMillis: Int64?, drops: [DropSummary], deadLetteredBatches: Int,
                lastSyncMillis: Int64?, rssBytes: Int64, cpuPercent: Double, firingAlerts: Int, eventBacklogRows: Int? = nil,
                notify: [NotifyTargetHealth]? = nil) {
        self.takenAtMillis = takenAtMillis
        self.bootID = bootID
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.status = status
        self.reasons = reasons
        self.clockSynchronized = clockSynchronized
        self.sensors = sensors
        self.databaseBytes = databaseBytes
        self.backlogRows = backlogRows
        self.backlogOldestMillis = backlogOldestMillis
        self.eventBacklogRows = eventBacklogRows
        self.drops = drops
        self.deadLetteredBatches = deadLetteredBatches
        self.lastSyncMillis = lastSyncMillis
        self.rssBytes = rssBytes
        self.cpuPercent = cpuPercent
        self.firingAlerts = firingAlerts
        self.notify = notify
    }
}

/// One notification target's delivery, as the health report carries it.
public struct NotifyTargetHealth: Codable, Sendable, Hashable {
    /// The target's id in agent.yaml.
    public var target: String
    /// Messages the service accepted.
    public var sent: Int
    /// Attempts that failed and were tried again (network errors, 5xx, 429).
    public var retried: Int
    /// Open dead letters: messages the service refused, waiting for `edge-agent notify requeue`.
    public var dead: Int
    /// Alert events not yet dealt with for this target.
    public var pending: Int
    public var oldestPendingAgeSeconds: Double?

    public init(target: String, sent: Int, retried: Int, dead: Int, pending: Int, oldestPendingAgeSeconds: Double?) {
        self.target = target
        self.sent = sent
        self.retried = retried
        self.dead = dead
        self.pending = pending
        self.oldestPendingAgeSeconds = oldestPendingAgeSeconds
    }
}

public struct SensorHealth: Codable, Sendable, Hashable {
    public enum State: String, Codable, Sendable, Hashable {
        case ok, failing, stale, unknown
    }
    public var id: String
    public var state: State
    public var errorCount: Int
    /// Errors by kind ("noDevice": 3, "crcMismatch": 1).
    public var errorsByKind: [String: Int]
    public var lastError: String?
    public var lastReadingAgeSeconds: Double?

    public init(id: String, state: State, errorCount: Int, errorsByKind: [String: Int], lastError: String?,
                lastReadingAgeSeconds: Double?) {
        self.id = id
        self.state = state
        self.errorCount = errorCount
        self.errorsByKind = errorsByKind
        self.lastError = lastError
        self.lastReadingAgeSeconds = lastReadingAgeSeconds
    }
}

/// Rows retention removed before they were synced, or by age: counted, never silent.
public struct DropSummary: Codable, Sendable, Hashable {
    public var sensorID: String
    public var reason: String
    public var count: Int64
    public var firstMillis: Int64?
    public var lastMillis: Int64?
    public init(sensorID: String, reason: String, count: Int64, firstMillis: Int64?, lastMillis: Int64?) {
        self.sensorID = sensorID
        self.reason = reason
        self.count = count
        self.firstMillis = firstMillis
        self.lastMillis = lastMillis
    }
}
