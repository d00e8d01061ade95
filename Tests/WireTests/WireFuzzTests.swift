import Foundation
import Testing
@testable import Wire

/// The batch decoder under mutation: whatever bytes arrive, `WireCodec.decodeBatch` either
/// returns a batch that validates and survives a round trip, or throws its typed
/// `DecodeFailure` with a reason. A trap would end the test process (and once ended the
/// server: a range starting at Int64.min). Seeded, so a failure reproduces.
@Suite struct WireFuzzTests {
    /// Inflated size for the fuzz cases: small, so a bomb among them costs little.
    static let inflateLimit = 1 << 20

    @Test func everyCorpusSeedDecodes() throws {
        for seed in FuzzCorpus.valid {
            let batch = try WireCodec.decodeBatch(gzipped: Gzip.compress(Array(seed.utf8)))
            #expect(batch.validationError() == nil)
        }
    }

    @Test func craftedBatchesAreRefusedWithTheirReason() {
        for (json, reason) in FuzzCorpus.refused {
            #expect(Self.outcome(Gzip.compress(Array(json.utf8))) == "refused: \(reason)", "\(json)")
        }
    }

    @Test func aSecondGzipMemberOrTrailingBytesAreRefused() {
        let member = Gzip.compress(Array(FuzzCorpus.valid[1].utf8))
        #expect(throws: Gzip.Failure.corrupt("3 bytes of trailing data after the gzip member")) {
            try Gzip.decompress(member + [1, 2, 3], limit: 1 << 20)
        }
        #expect(throws: Gzip.Failure.corrupt("\(member.count) bytes of trailing data after the gzip member")) {
            try Gzip.decompress(member + member, limit: 1 << 20)
        }
        #expect(Self.outcome(member + [0]) == "refused: body is not valid gzip: 1 bytes of trailing data after the gzip member")
    }

    /// A few thousand mutants of the corpus: JSON edits (numbers swapped for Int64.min/max,
    /// -1, out-of-range and non-integral values; strings for NUL, empty or oversized ones;
    /// extra array elements so columns and counts disagree; deleted and duplicated slices;
    /// bit flips) and gzip edits (bit flips, truncation, trailing data, a second member, a
    /// bomb). Well under a minute in a debug build.
    @Test func mutatedBatchesNeverTrapAndEachDecodesOrIsRefused() throws {
        var random = SplitMix64(seed: 0x5eed_11)
        let started = ContinuousClock.now
        var decoded = 0, refused = 0
        var reasons = Set<String>()
        for round in 0..<4_000 {
            var json = Array(FuzzCorpus.valid[round % FuzzCorpus.valid.count].utf8)
            for _ in 0...random.below(3) { json = Mutator.mutateJSON(json, &random) }
            var body = Gzip.compress(json)
            if random.below(4) == 0 { body = Mutator.mutateGzip(body, &random) }
            let result = Self.outcome(body)
            if result.hasPrefix("decoded") {
                decoded += 1
            } else {
                refused += 1
                reasons.insert(String(result.prefix(40)))
            }
            #expect(!result.hasPrefix("broken"), "round \(round): \(result) from \(String(decoding: json, as: UTF8.self))")
        }
        // Both outcomes happen, and for many different reasons: the mutants reach past the parser.
        #expect(decoded > 100)
        #expect(refused > 2_000)
        #expect(reasons.count > 40)
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    /// "decoded", "refused: <reason>", or "broken: …" for a batch that decoded but does not
    /// validate or does not survive a round trip through the device's encoder.
    static func outcome(_ body: [UInt8]) -> String {
        do {
            let batch = try WireCodec.decodeBatch(gzipped: body, inflateLimit: inflateLimit)
            if let problem = batch.validationError() { return "broken: decoded but invalid: \(problem)" }
            guard let again = try? WireCodec.decodeBatch(gzipped: WireCodec.encode(batch)), again == batch else {
                return "broken: does not survive a round trip"
            }
            return "decoded"
        } catch {
            return error.description.isEmpty ? "broken: a failure without a reason" : "refused: \(error.description)"
        }
    }
}

/// Edits that keep most of a batch intact, so the decoder's later checks are reached.
enum Mutator {
    static let numbers = ["-9223372036854775808", "9223372036854775807", "-1", "0", "1", "9223372036854775808",
                          "-9223372036854775809", "2147483647", "2147483648", "-2147483649", "1e400", "-0", "0.5",
                          "1e-400", "18446744073709551615", "100000000000000000000000000000"]
    static let strings = [#""\u0000""#, #""""#, #""ok""#, "\"" + String(repeating: "x", count: 200) + "\"",
                          #""\ud800""#, "null", "0", "[]", "{}", #""clock-unsynced""#]

    static func mutateJSON(_ json: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var json = json
        switch random.below(7) {
        case 0, 1:  // a number for an edge value
            let tokens = numberTokens(json)
            guard !tokens.isEmpty else { return json }
            json.replaceSubrange(tokens[random.below(tokens.count)], with: Array(numbers[random.below(numbers.count)].utf8))
        case 2:  // a string for an awkward one
            let tokens = stringTokens(json)
            guard !tokens.isEmpty else { return json }
            json.replaceSubrange(tokens[random.below(tokens.count)], with: Array(strings[random.below(strings.count)].utf8))
        case 3:  // one more array element: columns and counts disagree
            let opens = json.indices.filter { json[$0] == UInt8(ascii: "[") }
            guard !opens.isEmpty else { return json }
            let element = random.below(2) == 0 ? numbers[random.below(numbers.count)] : #""ok""#
            json.insert(contentsOf: Array((element + ",").utf8), at: opens[random.below(opens.count)] + 1)
        case 4:  // a slice deleted
            guard json.count > 2 else { return json }
            let start = random.below(json.count)
            json.removeSubrange(start..<min(json.count, start + 1 + random.below(24)))
        case 5:  // a slice duplicated
            guard json.count > 2 else { return json }
            let start = random.below(json.count)
            let slice = json[start..<min(json.count, start + 1 + random.below(40))]
            json.insert(contentsOf: slice, at: random.below(json.count))
        default:  // a bit flipped
            guard !json.isEmpty else { return json }
            json[random.below(json.count)] ^= UInt8(1) << UInt8(random.below(8))
        }
        return json
    }

    static func mutateGzip(_ body: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var body = body
        switch random.below(6) {
        case 0: body[random.below(body.count)] ^= UInt8(1) << UInt8(random.below(8))
        case 1: body.removeLast(1 + random.below(body.count - 1))
        case 2: body += (0...random.below(16)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        case 3: body += body
        case 4: body[3] |= UInt8(1) << UInt8(random.below(8))  // header flags: FEXTRA, FNAME, reserved bits
        default: body = Gzip.compress([UInt8](repeating: UInt8(ascii: " "), count: WireFuzzTests.inflateLimit + 1))
        }
        return body
    }

    /// Byte ranges of JSON numbers outside strings.
    static func numberTokens(_ json: [UInt8]) -> [Range<Int>] {
        tokens(json).numbers
    }

    /// Byte ranges of JSON strings, quotes included.
    static func stringTokens(_ json: [UInt8]) -> [Range<Int>] {
        tokens(json).strings
    }

    private static func tokens(_ json: [UInt8]) -> (numbers: [Range<Int>], strings: [Range<Int>]) {
        var numbers: [Range<Int>] = [], strings: [Range<Int>] = []
        var index = 0
        while index < json.count {
            let byte = json[index]
            if byte == UInt8(ascii: "\"") {
                var end = index + 1
                while end < json.count && json[end] != UInt8(ascii: "\"") { end += json[end] == UInt8(ascii: "\\") ? 2 : 1 }
                end = min(end + 1, json.count)
                strings.append(index..<end)
                index = end
            } else if byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                var end = index + 1
                while end < json.count && "0123456789.eE+-".utf8.contains(json[end]) { end += 1 }
                numbers.append(index..<end)
                index = end
            } else {
                index += 1
            }
        }
        return (numbers, strings)
    }
}

/// A small, fast, seedable generator (Steele, Lea, Flood 2014), so every run mutates alike.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// 0..<bound, for bound > 0.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
