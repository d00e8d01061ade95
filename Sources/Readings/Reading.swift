import EdgeCore

/// One stored reading. Identity is (store id, sequence): sequences never repeat within a
/// store, and a wiped database gets a new store id, so no identity is ever reused.
public struct Reading: Sendable, Hashable {
    /// Assigned by the store on insert; strictly increasing, never reused.
    public var sequence: Int64
    /// Sensor id from the profile, with the channel for multi-channel sensors
    /// ("tank_temp", "room.humidity").
    public var sensorID: String
    /// UTC milliseconds since the Unix epoch.
    public var timestampMillis: Int64
    public var value: Double
    public var unit: String
    public var quality: SampleQuality
    /// False while the timestamp is provisional: taken before the wall clock was
    /// synchronised, until the store re-stamps it from the monotonic clock.
    public var clockSynchronized: Bool

    public init(sequence: Int64, sensorID: String, timestampMillis: Int64, value: Double, unit: String, quality: SampleQuality,
                clockSynchronized: Bool = true) {
        self.sequence = sequence
        self.sensorID = sensorID
        self.timestampMillis = timestampMillis
        self.value = value
        self.unit = unit
        self.quality = quality
        self.clockSynchronized = clockSynchronized
    }
}
