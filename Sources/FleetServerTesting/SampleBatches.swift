import Wire

/// A batch as a device sends it, for tests of the server and of sync: five readings from two
/// sensors, two events, a health report, all with exact values.
public enum SampleBatches {
    public static let health = HealthReport(
        takenAtMillis: 1_700_000_100_000, bootID: "boot-1", version: "0.1.0", uptimeSeconds: 3600.5, status: .degraded,
        reasons: ["ph probe failing"], clockSynchronized: true,
        sensors: [SensorHealth(id: "ph", state: .failing, errorCount: 3, errorsByKind: ["noDevice": 3],
                               lastError: "no device at 0x63", lastReadingAgeSeconds: nil)],
        databaseBytes: 123_456, backlogRows: 10, backlogOldestMillis: 1_700_000_000_000,
        drops: [DropSummary(sensorID: "tank", reason: "budget", count: 4, firstMillis: 1, lastMillis: 2)],
        deadLetteredBatches: 0, lastSyncMillis: nil, rssBytes: 20_000_000, cpuPercent: 1.5, firingAlerts: 1,
        notify: [NotifyTargetHealth(target: "phone", sent: 12, retried: 3, dead: 1, pending: 2, oldestPendingAgeSeconds: 58.5)])

    /// Readings alternate between two sensors; values are exact in binary (n / 8).
    public static func batch(device: String = "reef-1", readings: ClosedRange<Int64> = 1...5, events: ClosedRange<Int64>? = 1...2,
                             health: Bool = true) -> SyncBatch {
        let sequences = Array(readings)
        let block = ReadingBlock(
            range: .init(first: readings.lowerBound, last: readings.upperBound),
            sensors: ["tank", "room.humidity"], units: ["°C", "%RH"], sequence: sequences,
            sensor: sequences.map { Int32($0 % 2) }, unit: sequences.map { Int32($0 % 2) },
            timestampMillis: sequences.map { 1_700_000_000_000 + $0 * 1000 },
            value: sequences.map { 25 + Double($0) / 8 }, quality: sequences.map { $0 == 3 ? "suspect" : "ok" })
        return SyncBatch(deviceID: device, storeID: "store-a", readings: block,
                         events: events.map { EventBlock(range: .init(first: $0.lowerBound, last: $0.upperBound), events: Self.events($0)) },
                         health: health ? Self.health : nil)
    }

    public static func events(_ range: ClosedRange<Int64>) -> [WireAlertEvent] {
        range.map { sequence in
            WireAlertEvent(sequence: sequence, ruleID: "tank-hot", sensorID: "tank", kind: sequence % 2 == 1 ? .fired : .resolved,
                           severity: .critical, value: sequence % 2 == 1 ? 28.5 : nil, threshold: 28,
                           timestampMillis: 1_700_000_000_000 + sequence * 60_000,
                           activeSinceMillis: sequence % 2 == 1 ? nil : 1_700_000_000_000, message: "tank above 28 °C")
        }
    }
}
