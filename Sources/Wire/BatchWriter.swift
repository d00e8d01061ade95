import Foundation

/// Writes a `SyncBatch` as the JSON `JSONEncoder` would give (sorted keys, absent optionals
/// omitted; numbers may be spelled differently, "25.0" for "25"), straight into bytes.
///
/// A batch is mostly six columns of 5 000 numbers; `JSONEncoder` walks them element by
/// element through `Encodable` and was 96 % of the device's cost of building a batch
/// (docs/BENCHMARKS.md). The small, irregular parts (events, health) still go through
/// `JSONEncoder`. `WireTests` decode this output with `JSONDecoder` and compare.
struct BatchWriter {
    private(set) var bytes: [UInt8] = []

    static func encode(_ batch: SyncBatch) throws -> [UInt8] {
        var writer = BatchWriter()
        writer.bytes.reserveCapacity(256 + (batch.readings?.count ?? 0) * 48)
        try writer.write(batch)
        return writer.bytes
    }

    private mutating func write(_ batch: SyncBatch) throws {
        // Keys in sorted order, as `.sortedKeys` gives them.
        bytes.append(UInt8(ascii: "{"))
        key("deviceID", first: true); string(batch.deviceID)
        if let events = batch.events { key("events"); try encoded(events) }
        if let health = batch.health { key("health"); try encoded(health) }
        if let readings = batch.readings { key("readings"); try write(readings) }
        key("storeID"); string(batch.storeID)
        key("version"); integer(Int64(batch.version))
        bytes.append(UInt8(ascii: "}"))
    }

    private mutating func write(_ block: ReadingBlock) throws {
        bytes.append(UInt8(ascii: "{"))
        if let clockUnsynced = block.clockUnsynced {
            key("clockUnsynced", first: true); array(clockUnsynced) { $0.bytes.append(contentsOf: $1 ? Array("true".utf8) : Array("false".utf8)) }
            key("quality")
        } else {
            key("quality", first: true)
        }
        array(block.quality) { $0.string($1) }
        key("range"); write(block.range)
        key("sensor"); array(block.sensor) { $0.integer(Int64($1)) }
        key("sensors"); array(block.sensors) { $0.string($1) }
        key("sequence"); array(block.sequence) { $0.integer($1) }
        key("timestampMillis"); array(block.timestampMillis) { $0.integer($1) }
        key("unit"); array(block.unit) { $0.integer(Int64($1)) }
        key("units"); array(block.units) { $0.string($1) }
        key("value")
        bytes.append(UInt8(ascii: "["))
        for (index, value) in block.value.enumerated() {
            guard value.isFinite else {
                throw EncodingError.invalidValue(value, .init(
                    codingPath: [], debugDescription: "readings.value[\(index)] = \(value) is not a finite number"))
            }
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            double(value)
        }
        bytes.append(UInt8(ascii: "]"))
        bytes.append(UInt8(ascii: "}"))
    }

    private mutating func write(_ range: SequenceRange) {
        bytes.append(UInt8(ascii: "{"))
        key("first", first: true); integer(range.first)
        key("last"); integer(range.last)
        bytes.append(UInt8(ascii: "}"))
    }

    private mutating func encoded<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        bytes.append(contentsOf: try encoder.encode(value))
    }

    private mutating func key(_ name: StaticString, first: Bool = false) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func array<C: Collection>(_ values: C, _ element: (inout BatchWriter, C.Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for value in values {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            element(&self, value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Decimal digits without going through a `String`.
    private mutating func integer(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: buffer[index...])
        }
    }

    /// Swift's shortest round-trip form ("25.5", "25.0", "1e-05"): JSON numbers that parse
    /// back to the same `Double`. Short enough to stay a small string, so no allocation.
    private mutating func double(_ value: Double) {
        var text = value.description
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// A JSON string: quote, backslash and control characters escaped, everything else as UTF-8.
    private mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
