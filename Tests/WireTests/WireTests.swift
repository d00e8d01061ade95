import Foundation
import Testing
@testable import Wire

@Suite struct GzipTests {
    @Test func roundTripsAndIsRealGzip() throws {
        let text = Array(String(repeating: "reef 25.5 °C ", count: 1000).utf8)
        let packed = Gzip.compress(text)
        #expect(Array(packed.prefix(2)) == [0x1f, 0x8b]) // RFC 1952 magic
        #expect(packed.count < text.count / 10)
        #expect(try Gzip.decompress(packed, limit: text.count) == text)
    }

    @Test func decompressesWhatGzipToolWrites() throws {
        // printf 'hello reef\n' | gzip -n | xxd -i
        let fromTool: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9,
                                 0xc9, 0x57, 0x28, 0x4a, 0x4d, 0x4d, 0xe3, 0x02, 0x00, 0xb1, 0x6f, 0x9b, 0xe3, 0x0b,
                                 0x00, 0x00, 0x00]
        #expect(String(decoding: try Gzip.decompress(fromTool, limit: 100), as: UTF8.self) == "hello reef\n")
    }

    @Test func refusesABombBeyondTheLimit() {
        let bomb = Gzip.compress([UInt8](repeating: 0, count: 1_000_000))
        #expect(bomb.count < 2_000)
        #expect(throws: Gzip.Failure.tooLarge(limit: 100_000)) { try Gzip.decompress(bomb, limit: 100_000) }
    }

    @Test func reportsTruncationAndGarbage() {
        let packed = Gzip.compress(Array("some batch".utf8))
        #expect(throws: Gzip.Failure.corrupt("truncated")) { try Gzip.decompress(Array(packed.prefix(8)), limit: 100) }
        #expect(throws: Gzip.Failure.self) { try Gzip.decompress(Array("{\"not\":\"gzip\"}".utf8), limit: 100) }
    }
}

@Suite struct BatchTests {
    static func block() -> ReadingBlock {
        ReadingBlock(range: SequenceRange(first: 10, last: 13), sensors: ["tank_temp", "ph"], units: ["°C", "pH"],
                     sequence: [10, 11, 13], sensor: [0, 1, 0], unit: [0, 1, 0],
                     timestampMillis: [1_000, 1_000, 2_000], value: [25.5, 8.1, 25.6], quality: ["ok", "ok", "filtered"])
    }

    @Test func batchRoundTripsThroughTheCodec() throws {
        let batch = SyncBatch(deviceID: "tank-1", storeID: "S", readings: Self.block())
        let decoded = try WireCodec.decodeBatch(gzipped: try WireCodec.encode(batch))
        #expect(decoded == batch)
        #expect(decoded.readings?.count == 3)
    }

    /// An agent from before `silenced` and `output` travelled sends neither: its events are
    /// stored (not silenced, no output) rather than refused and quarantined.
    @Test func anEventWithoutTheNewerFieldsDecodesAsNotSilenced() throws {
        let json = #"{"kind":"fired","message":"m","ruleID":"r","sensorID":"s","sequence":1,"severity":"warning","timestampMillis":1}"#
        let event = try JSONDecoder().decode(WireAlertEvent.self, from: Data(json.utf8))
        #expect(event == WireAlertEvent(sequence: 1, ruleID: "r", sensorID: "s", kind: .fired, severity: .warning, value: nil,
                                        threshold: nil, timestampMillis: 1, activeSinceMillis: nil, message: "m"))
        #expect(event.silenced == false && event.output == nil)
    }

    /// The batch writer (the device's path) against JSONEncoder (the reference): the same
    /// JSON value, and every awkward number and string survives the trip exactly.
    @Test func batchWriterWritesWhatJSONEncoderWrites() throws {
        let values: [Double] = [25.5, 0, -0.0, 0.1, 1e-5, -1e-300, 5e20, 1e16, 123_456_789.123, .leastNonzeroMagnitude,
                                .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 8.1]
        let sequence = (0..<Int64(values.count)).map { Int64.max - Int64(values.count) + $0 }
        let block = ReadingBlock(
            range: SequenceRange(first: sequence.first!, last: sequence.last!),
            sensors: ["tank \"temp\"", "back\\slash", "tab\there", "new\nline", "ctl\u{01}", "ünï/cødé 🐠"],
            units: ["°C", ""], sequence: sequence,
            sensor: sequence.map { Int32($0 % 6) }, unit: sequence.map { Int32($0 % 2) },
            timestampMillis: sequence.indices.map { $0.isMultiple(of: 2) ? -1_000 * Int64($0) : Int64.min + Int64($0) },
            value: values, quality: sequence.map { $0.isMultiple(of: 3) ? "clock-unsynced" : "ok" },
            clockUnsynced: sequence.map { $0.isMultiple(of: 2) })
        let health = HealthReport(
            takenAtMillis: 1, bootID: "b", version: "v", uptimeSeconds: 2.5, status: .healthy, reasons: [], clockSynchronized: true,
            sensors: [], databaseBytes: 3, backlogRows: 4, backlogOldestMillis: nil, drops: [], deadLetteredBatches: 0,
            lastSyncMillis: 5, rssBytes: 6, cpuPercent: 0.25, firingAlerts: 0)
        let events = EventBlock(range: SequenceRange(first: 1, last: 1), events: [WireAlertEvent(
            sequence: 1, ruleID: "r", sensorID: "s", kind: .fired, severity: .critical, value: 28.5, threshold: nil,
            timestampMillis: 7, activeSinceMillis: nil, message: "hot", silenced: true, output: "heater")])
        for batch in [SyncBatch(deviceID: "tank-1", storeID: "S", readings: block, events: events, health: health),
                      SyncBatch(deviceID: "d", storeID: "s"),
                      SyncBatch(deviceID: "d", storeID: "s", readings: ReadingBlock(range: SequenceRange(first: 1, last: 1)))] {
            let written = try BatchWriter.encode(batch)
            let reference = try { () throws -> Data in
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                return try encoder.encode(batch)
            }()
            #expect(try JSONDecoder().decode(SyncBatch.self, from: Data(written)) == batch)
            let parsed = try JSONSerialization.jsonObject(with: Data(written)) as? NSDictionary
            let expected = try JSONSerialization.jsonObject(with: reference) as? NSDictionary
            #expect(parsed == expected)
            #expect(try WireCodec.decode(SyncBatch.self, gzipped: WireCodec.encode(batch)) == batch)
        }
        #expect(block.value.map(\.sign) == (try JSONDecoder().decode(SyncBatch.self, from: Data(BatchWriter.encode(
            SyncBatch(deviceID: "d", storeID: "s", readings: block))))).readings?.value.map(\.sign))
        var bad = block
        bad.value[2] = .infinity
        #expect(throws: EncodingError.self) { try BatchWriter.encode(SyncBatch(deviceID: "d", storeID: "s", readings: bad)) }
    }

    @Test func validationNamesTheOffendingRow() {
        var b = Self.block()
        b.sequence = [10, 12, 11]
        #expect(b.validationError() == "readings.sequence[2] = 11 is not ascending within 10...13")
        b = Self.block()
        b.sensor[1] = 5
        #expect(b.validationError() == "readings.sensor[1] = 5 is not an index into sensors")
        b = Self.block()
        b.value[0] = .nan
        #expect(b.validationError() == "readings.value[0] is not finite")
        b = Self.block()
        b.quality.removeLast()
        #expect(b.validationError() == "readings columns differ in length (sequence has 3 rows)")
        b = Self.block()
        b.quality[2] = "great"
        #expect(b.validationError() == "readings.quality[2] = \"great\" is not one of [\"clock-unsynced\", \"filtered\", \"ok\", \"suspect\"]")
    }

    @Test func decodeFailuresSayWhatIsWrong() throws {
        let missing = Gzip.compress(Array(#"{"version":1,"deviceID":"d"}"#.utf8))
        #expect(throws: WireCodec.DecodeFailure.self) { try WireCodec.decodeBatch(gzipped: missing) }
        do {
            _ = try WireCodec.decodeBatch(gzipped: missing)
        } catch {
            #expect(error.description == "body is not a valid batch: missing key storeID")
        }
        let future = try WireCodec.encode(SyncBatch(deviceID: "d", storeID: "s", version: 9))
        do {
            _ = try WireCodec.decodeBatch(gzipped: future)
            Issue.record("version 9 accepted")
        } catch {
            #expect(error.description == "protocol version 9 is not supported; this server speaks 1")
        }
    }
}
