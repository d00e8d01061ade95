/// What a well-formed batch may contain beyond what JSON decoding checks. Every limit here
/// is one PostgreSQL (or the server's memory) would otherwise enforce with an error the
/// device could not act on; checked before any SQL runs, each failure is a 400 whose reason
/// names the field, so the device quarantines the batch instead of retrying it forever.
public enum WireLimits {
    /// Device names are registered as 1–64 characters (`fleet-server devices add`).
    public static let maxDeviceIDBytes = 64
    /// Store ids are UUIDs (36 bytes); 128 leaves room for other schemes.
    public static let maxStoreIDBytes = 128
    /// Sensor, rule and output ids, as profiles allow them.
    public static let maxIDBytes = 128
    /// Units, as profiles allow them.
    public static let maxUnitBytes = 32
    /// An alert event's message (a profile's template, interpolated).
    public static let maxMessageBytes = 16 * 1024
    /// A health report, as JSON: a few KiB for a board with dozens of sensors.
    public static let maxHealthBytes = 64 * 1024
}

/// Checks for the text fields of a batch: PostgreSQL refuses NUL in `text` and `\u0000`
/// in `jsonb`, and an unbounded id would make every index entry as large.
enum TextCheck {
    /// Why `value` cannot be stored as the field `name`, or `nil`.
    static func problem(_ value: String, _ name: @autoclosure () -> String, maxBytes: Int, allowEmpty: Bool = false) -> String? {
        let bytes = value.utf8.count
        if !allowEmpty && bytes == 0 { return "\(name()) is empty" }
        if bytes > maxBytes { return "\(name()) is \(bytes) bytes long; the limit is \(maxBytes)" }
        if value.utf8.contains(0) { return "\(name()) contains a NUL character" }
        return nil
    }
}

extension SequenceRange {
    /// A range as a batch may carry it: not reversed, no negative sequence. Sequences are
    /// SQLite row ids, which start at 1.
    func problem(_ name: String) -> String? {
        guard first >= 0 else { return "\(name) \(self) starts at a negative sequence" }
        guard first <= last else { return "\(name) \(self) is empty or reversed" }
        return nil
    }

    /// Checks one stream's sequences against the range, with no arithmetic that can
    /// overflow: strictly ascending, inside the range, and the last one ends it. A range may
    /// start before its first row (rows retention dropped before they were sent), but it may
    /// not claim rows after its last one: the device acknowledges exactly up to what it sent.
    func sequenceProblem(count: Int, name: String, sequence: (Int) -> Int64, element: (Int) -> String) -> String? {
        guard count > 0 else { return "\(name) \(self) carries no rows; leave the block out instead" }
        var previous: Int64?
        for index in 0..<count {
            let value = sequence(index)
            guard value >= first, value <= last, previous.map({ value > $0 }) ?? true else {
                return "\(element(index)) = \(value) is not ascending within \(self)"
            }
            previous = value
        }
        if let previous, previous != last {
            return "\(name) \(self) ends after its last row \(previous); a range ends at the last row it carries"
        }
        return nil
    }
}

extension HealthReport {
    /// Why the report cannot be stored: larger than `WireLimits.maxHealthBytes` as JSON
    /// (`encodedBytes`, as the server stores it), or a string holding a NUL character
    /// (which `jsonb` refuses).
    public func validationError(encodedBytes: Int) -> String? {
        if encodedBytes > WireLimits.maxHealthBytes {
            return "health is \(encodedBytes) bytes as JSON; the limit is \(WireLimits.maxHealthBytes)"
        }
        if let interval = syncIntervalSeconds, !(1...86_400).contains(interval) {
            return "health.syncIntervalSeconds is \(interval); the agent syncs every 1 s to 1 day"
        }
        var strings: [(String, String)] = [(bootID, "health.bootID"), (version, "health.version")]
        strings += reasons.enumerated().map { ($1, "health.reasons[\($0)]") }
        for (index, sensor) in sensors.enumerated() {
            strings.append((sensor.id, "health.sensors[\(index)].id"))
            strings += sensor.errorsByKind.keys.map { ($0, "health.sensors[\(index)].errorsByKind key") }
            if let lastError = sensor.lastError { strings.append((lastError, "health.sensors[\(index)].lastError")) }
        }
        for (index, drop) in drops.enumerated() {
            strings += [(drop.sensorID, "health.drops[\(index)].sensorID"), (drop.reason, "health.drops[\(index)].reason")]
        }
        for (value, name) in strings where value.utf8.contains(0) { return "\(name) contains a NUL character" }
        return nil
    }
}
