/// How far a measured value can be trusted. Whether its timestamp is final is a separate fact
/// (`DeviceTime.synchronized`): a suspect value stays suspect on a device whose clock is not
/// synchronised. Ordered from most to least trusted, so a filter chain keeps the worst.
public enum SampleQuality: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Measured and passed through the sensor's filters unchanged in meaning.
    case ok
    /// Produced by a smoothing filter (median, moving average, …) rather than one sample.
    case filtered
    /// Measured, but the driver or a filter doubts it (clipped ADC code, out of clamp range).
    /// Stored for the record; never evidence for or against an alert rule.
    case suspect

    private var rank: Int {
        switch self {
        case .ok: 0
        case .filtered: 1
        case .suspect: 2
        }
    }

    public static func < (lhs: SampleQuality, rhs: SampleQuality) -> Bool { lhs.rank < rhs.rank }
}

/// One value on its way from the filters to the stages after them: the pipeline hands the same
/// sample to the reading store and to the alert engine. Defined here, below both, so neither
/// needs the other's types.
public struct Sample: Sendable, Hashable {
    /// The sensor id from the profile, joined with the channel for multi-channel sensors
    /// ("tank_temp", "room.humidity"): the series the value belongs to.
    public var sensorID: String
    public var value: Double
    /// The channel's unit as stored and displayed ("°C", "pH", "state").
    public var unit: String
    public var quality: SampleQuality
    /// When it was measured, on all of the device's clocks; `time.synchronized` says whether the
    /// wall-clock part is final or will be re-stamped from `bootNanos` once NTP has answered.
    public var time: DeviceTime

    public init(sensorID: String, value: Double, unit: String, quality: SampleQuality, time: DeviceTime) {
        self.sensorID = sensorID
        self.value = value
        self.unit = unit
        self.quality = quality
        self.time = time
    }

    /// Whether the value may count as evidence (for a rule, a statistic): measured, finite,
    /// and not doubted by the driver or a filter.
    public var isEvidence: Bool { quality != .suspect && value.isFinite }
}
