/// How far a stored value can be trusted, as measured. Whether its timestamp is final is a
/// separate fact (`Reading.clockSynchronized`): a suspect value stays suspect on a device
/// whose clock is not synchronised.
public enum ReadingQuality: String, Sendable, Hashable, Codable, CaseIterable {
    /// Measured and passed through the sensor's filters unchanged in meaning.
    case ok
    /// Produced by a smoothing filter (median, moving average, …) rather than one sample.
    case filtered
    /// Measured, but the driver or a filter doubts it (clipped ADC code, out of clamp range).
    case suspect
}

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
    public var quality: ReadingQuality
    /// False while the timestamp is provisional: taken before the wall clock was
    /// synchronised, until the store re-stamps it from the monotonic clock.
    public var clockSynchronized: Bool

    public init(sequence: Int64, sensorID: String, timestampMillis: Int64, value: Double, unit: String, quality: ReadingQuality,
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
