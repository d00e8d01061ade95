import EdgeCore
import Readings
import Wire

/// Readings as Sync reads them: committed rows, ascending by sequence. A seam between two
/// stages, so the engine reads through what it needs and nothing else; `ReadingQueries`
/// conforms.
public protocol SyncReadingSource: Sendable {
    /// Readings with a sequence above `afterSequence`, ascending, at most `limit`.
    func readings(afterSequence: Int64, limit: Int) throws -> [Reading]
    /// How many readings lie beyond `afterSequence`, and the timestamp of the oldest.
    func backlog(afterSequence: Int64) throws -> (count: Int, oldestMillis: Int64?)
    /// The highest sequence the store ever issued (see `ReadingQueries.highestSequenceIssued`).
    func highestSequenceIssued() throws -> Int64
    /// The lowest sequence of this boot still waiting for the wall clock, or nil.
    func firstCorrectableSequence() throws -> Int64?
    /// When reading `sequence` was taken, on its boot's monotonic clock; nil if there is none.
    func bootNanos(ofSequence sequence: Int64) throws -> Int64?
}

extension ReadingQueries: SyncReadingSource {}

/// One batch ready to post: its encoded body and what it carries, for the acknowledgement.
struct PendingBatch {
    var body: [UInt8]
    var readings: SequenceRange?
    var events: SequenceRange?
    var readingRows: Int
    var eventRows: Int
    var health: Bool
    var rows: Int { readingRows + eventRows }
}

/// Builds the next batch from the cursors: events first, then the oldest readings not held
/// back by the clock hold, up to a row limit; then encodes them, halving the readings, then
/// the events, until the body fits `maxBatchBytes`. Reads the sources; the encoding is pure.
struct BatchBuilder: Sendable {
    /// Where each stream's next batch starts (exclusive).
    struct Position: Sendable, Hashable {
        var readings: Int64
        var events: Int64
    }

    /// The rows a batch may carry, before the engine keeps only durable ones.
    struct Rows {
        var events: [WireAlertEvent]
        var readings: [Reading]
    }

    let deviceID: String
    let maxBatchBytes: Int
    let clockHold: Duration
    let readings: any SyncReadingSource
    let events: (any SyncEventSource)?

    /// At most `limit` rows beyond `position`, events taking their share first. With
    /// `holdUnsynced`, readings at or past the clock hold's first sequence stay behind.
    func rows(after position: Position, limit: Int, holdUnsynced: Bool, now: DeviceTime) throws -> Rows {
        let eventRows = try events?.syncEvents(afterSequence: position.events, limit: limit) ?? []
        guard eventRows.count < limit else { return Rows(events: eventRows, readings: []) }
        var readingRows = try readings.readings(afterSequence: position.readings, limit: limit - eventRows.count)
        if holdUnsynced,
           let hold = try ClockHold.current(readings: readings, position: position.readings, now: now, hold: clockHold) {
            readingRows = Array(readingRows.prefix { $0.sequence < hold.firstSequence })
        }
        return Rows(events: eventRows, readings: readingRows)
    }

    /// The batch carrying `rows` and `health`, or nil when it would carry nothing.
    func batch(_ rows: Rows, after position: Position, storeID: String, health: HealthReport?) throws -> PendingBatch? {
        guard !rows.events.isEmpty || !rows.readings.isEmpty || health != nil else { return nil }
        var eventRows = rows.events
        var readingRows = rows.readings
        while true {
            let readingBlock = Self.readingBlock(readingRows, after: position.readings)
            let eventBlock = eventRows.last.map {
                EventBlock(range: SequenceRange(first: position.events + 1, last: $0.sequence), events: eventRows)
            }
            let body = try WireCodec.encode(SyncBatch(deviceID: deviceID, storeID: storeID,
                                                      readings: readingBlock, events: eventBlock, health: health))
            if body.count > maxBatchBytes {
                if readingRows.count > 1 {
                    readingRows.removeLast(readingRows.count / 2)
                    continue
                }
                if eventRows.count > 1 {
                    readingRows.removeAll()
                    eventRows.removeLast(eventRows.count / 2)
                    continue
                }
                // One row over the cap: send it; a server that refuses it with 413 gets it quarantined.
            }
            return PendingBatch(body: body, readings: readingBlock?.range, events: eventBlock?.range,
                                readingRows: readingRows.count, eventRows: eventRows.count, health: health != nil)
        }
    }

    /// Readings as the wire's columns, sensors and units interned in order of first use.
    static func readingBlock(_ rows: [Reading], after position: Int64) -> ReadingBlock? {
        guard let last = rows.last else { return nil }
        var block = ReadingBlock(range: SequenceRange(first: position + 1, last: last.sequence))
        var sensorIndex: [String: Int32] = [:]
        var unitIndex: [String: Int32] = [:]
        for row in rows {
            let sensor = sensorIndex[row.sensorID] ?? {
                block.sensors.append(row.sensorID)
                sensorIndex[row.sensorID] = Int32(block.sensors.count - 1)
                return Int32(block.sensors.count - 1)
            }()
            let unit = unitIndex[row.unit] ?? {
                block.units.append(row.unit)
                unitIndex[row.unit] = Int32(block.units.count - 1)
                return Int32(block.units.count - 1)
            }()
            block.sequence.append(row.sequence)
            block.sensor.append(sensor)
            block.unit.append(unit)
            block.timestampMillis.append(row.timestampMillis)
            block.value.append(row.value)
            block.quality.append(row.quality.rawValue)
        }
        // Only a batch with a provisional timestamp carries the column.
        if rows.contains(where: { !$0.clockSynchronized }) {
            block.clockUnsynced = rows.map { !$0.clockSynchronized }
        }
        return block
    }
}
