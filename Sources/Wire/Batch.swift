import Foundation

/// Version 1 of the sync protocol: what a device sends and what the server answers.
/// docs/PROTOCOL.md describes it with an example; this file is the definition.
///
/// Identity is (device id, store id, sequence) for every record. A batch covers a
/// contiguous, inclusive range of sequence numbers per stream: the device states it holds
/// no other rows of that stream in the range (rows retention dropped are reported in health,
/// not silently skipped). The server stores what it has not seen, ignores what it has, and
/// acknowledges the range; the device advances its cursor only on that acknowledgement.
public enum WireProtocol {
    public static let version = 1
    /// `POST` target for batches, relative to the server URL.
    public static let batchPath = "/v1/batches"
    public static let contentType = "application/vnd.reef-edge.batch+json"
    /// Largest compressed body a server accepts by default (413 beyond it).
    public static let defaultMaxBodyBytes = 4 * 1024 * 1024
    /// Largest decompressed body; protects against gzip bombs.
    public static let defaultMaxInflatedBytes = 32 * 1024 * 1024
}

/// An inclusive range of sequence numbers within one stream.
public struct SequenceRange: Codable, Sendable, Hashable, CustomStringConvertible {
    public var first: Int64
    public var last: Int64
    public init(first: Int64, last: Int64) {
        self.first = first
        self.last = last
    }
    public var description: String { "\(first)...\(last)" }
}

public struct SyncBatch: Codable, Sendable, Hashable {
    public var version: Int
    public var deviceID: String
    public var storeID: String
    public var readings: ReadingBlock?
    public var events: EventBlock?
    public var health: HealthReport?

    public init(deviceID: String, storeID: String, readings: ReadingBlock? = nil, events: EventBlock? = nil,
                health: HealthReport? = nil, version: Int = WireProtocol.version) {
        self.version = version
        self.deviceID = deviceID
        self.storeID = storeID
        self.readings = readings
        self.events = events
        self.health = health
    }
}

extension SyncBatch {
    /// Why the batch cannot be stored as sent (the server answers 400 with this text): ids,
    /// both blocks and the health report, checked without trapping on any value.
    public func validationError() -> String? {
        if let problem = TextCheck.problem(deviceID, "deviceID", maxBytes: WireLimits.maxDeviceIDBytes) { return problem }
        if let problem = TextCheck.problem(storeID, "storeID", maxBytes: WireLimits.maxStoreIDBytes) { return problem }
        if let problem = readings?.validationError() { return problem }
        if let problem = events?.validationError() { return problem }
        if let health {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            // A report that decoded from JSON encodes again; if it somehow did not, it cannot be stored.
            guard let encoded = try? encoder.encode(health) else { return "health cannot be encoded as JSON" }
            if let problem = health.validationError(encodedBytes: encoded.count) { return problem }
        }
        return nil
    }
}

/// Readings in columns: sensor ids and units are sent once per batch and referenced by
/// index, so a 5 000-row batch is mostly numbers, and the server hands each column to
/// PostgreSQL's UNNEST as one array.
public struct ReadingBlock: Codable, Sendable, Hashable {
    public var range: SequenceRange
    public var sensors: [String]
    public var units: [String]
    public var sequence: [Int64]
    public var sensor: [Int32]
    public var unit: [Int32]
    public var timestampMillis: [Int64]
    public var value: [Double]
    /// Measured quality: ok, filtered, suspect. `clock-unsynced` is accepted from agents
    /// that sent the clock state in this column instead (their measured quality was lost).
    public var quality: [String]
    /// True where the row's timestamp is provisional (taken before the device's wall clock
    /// was synchronised, not yet re-stamped). Absent means every timestamp is final, which
    /// is what an agent that reported the clock state through `quality` sends.
    public var clockUnsynced: [Bool]?

    public init(range: SequenceRange, sensors: [String] = [], units: [String] = [], sequence: [Int64] = [],
                sensor: [Int32] = [], unit: [Int32] = [], timestampMillis: [Int64] = [], value: [Double] = [],
                quality: [String] = [], clockUnsynced: [Bool]? = nil) {
        self.range = range
        self.sensors = sensors
        self.units = units
        self.sequence = sequence
        self.sensor = sensor
        self.unit = unit
        self.timestampMillis = timestampMillis
        self.value = value
        self.quality = quality
        self.clockUnsynced = clockUnsynced
    }

    public var count: Int { sequence.count }

    /// Why a block cannot be stored as sent; the server answers 400 with this text. Never
    /// traps, whatever the values: every sequence, index and count is compared, never
    /// computed with.
    public func validationError() -> String? {
        let n = sequence.count
        if let problem = range.problem("readings.range") { return problem }
        guard sensor.count == n, unit.count == n, timestampMillis.count == n, value.count == n, quality.count == n,
              clockUnsynced.map({ $0.count == n }) ?? true else {
            return "readings columns differ in length (sequence has \(n) rows)"
        }
        if let problem = range.sequenceProblem(count: n, name: "readings.range", sequence: { sequence[$0] },
                                               element: { "readings.sequence[\($0)]" }) {
            return problem
        }
        for (index, id) in sensors.enumerated() {
            if let problem = TextCheck.problem(id, "readings.sensors[\(index)]", maxBytes: WireLimits.maxIDBytes) { return problem }
        }
        for (index, unit) in units.enumerated() {
            if let problem = TextCheck.problem(unit, "readings.units[\(index)]", maxBytes: WireLimits.maxUnitBytes, allowEmpty: true) {
                return problem
            }
        }
        for index in 0..<n {
            guard sensor[index] >= 0, Int(sensor[index]) < sensors.count else {
                return "readings.sensor[\(index)] = \(sensor[index]) is not an index into sensors"
            }
            guard unit[index] >= 0, Int(unit[index]) < units.count else {
                return "readings.unit[\(index)] = \(unit[index]) is not an index into units"
            }
            guard value[index].isFinite else { return "readings.value[\(index)] is not finite" }
            guard Self.qualities.contains(quality[index]) else {
                return "readings.quality[\(index)] = \"\(quality[index])\" is not one of \(Self.qualities.sorted())"
            }
        }
        return nil
    }

    /// `clock-unsynced` only for compatibility: it is a clock state, not a quality.
    public static let qualities: Set<String> = ["ok", "filtered", "suspect", "clock-unsynced"]
}

public struct EventBlock: Codable, Sendable, Hashable {
    public var range: SequenceRange
    public var events: [WireAlertEvent]
    public init(range: SequenceRange, events: [WireAlertEvent]) {
        self.range = range
        self.events = events
    }

    /// Why a block cannot be stored as sent (400); like `ReadingBlock.validationError`, never traps.
    public func validationError() -> String? {
        if let problem = range.problem("events.range") { return problem }
        if let problem = range.sequenceProblem(count: events.count, name: "events.range", sequence: { events[$0].sequence },
                                               element: { "events[\($0)].sequence" }) {
            return problem
        }
        for (index, event) in events.enumerated() {
            var fields: [(String, String, Int)] = [
                (event.ruleID, "ruleID", WireLimits.maxIDBytes), (event.sensorID, "sensorID", WireLimits.maxIDBytes),
            ]
            if let output = event.output { fields.append((output, "output", WireLimits.maxIDBytes)) }
            for (value, field, limit) in fields {
                if let problem = TextCheck.problem(value, "events[\(index)].\(field)", maxBytes: limit) { return problem }
            }
            if let problem = TextCheck.problem(event.message, "events[\(index)].message", maxBytes: WireLimits.maxMessageBytes,
                                               allowEmpty: true) {
                return problem
            }
            for (number, field) in [(event.value, "value"), (event.threshold, "threshold")] where number.map({ !$0.isFinite }) ?? false {
                return "events[\(index)].\(field) is not finite"
            }
        }
        return nil
    }
}

/// The server's answer to a stored batch (HTTP 200). `readings`/`events` repeat the ranges
/// the server now holds; the device moves its cursors to their `last`, in the same
/// transaction that records the acknowledgement.
public struct SyncAck: Codable, Sendable, Hashable {
    public var readings: StreamAck?
    public var events: StreamAck?
    public var healthStored: Bool

    public init(readings: StreamAck? = nil, events: StreamAck? = nil, healthStored: Bool = false) {
        self.readings = readings
        self.events = events
        self.healthStored = healthStored
    }

    public struct StreamAck: Codable, Sendable, Hashable {
        public var range: SequenceRange
        /// Rows new to the server.
        public var inserted: Int
        /// Rows it already held (a retried batch).
        public var duplicates: Int
        public init(range: SequenceRange, inserted: Int, duplicates: Int) {
            self.range = range
            self.inserted = inserted
            self.duplicates = duplicates
        }
    }
}

/// Every non-2xx answer carries one of these, so a device can quarantine a batch with the
/// server's own words.
public struct WireError: Codable, Sendable, Hashable, Error {
    public var error: String
    public var reason: String
    public init(error: String, reason: String) {
        self.error = error
        self.reason = reason
    }
}
