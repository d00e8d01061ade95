import ArgumentParser
import EdgeCore
import Foundation

/// Command-line numbers and times as types: ArgumentParser parses each option into one of
/// these (never failing, so the message can be ours), and the command's `validate()` checks
/// it against the option's range, so a bad value is a usage error naming the option and the
/// allowed range before anything is opened.

/// A duration option (`--for 2h`), read by the one duration parser.
struct DurationArgument: ExpressibleByArgument, Sendable {
    let text: String

    init(argument: String) { text = argument }

    var defaultValueDescription: String { text }

    func value(_ option: String, in range: ClosedRange<Duration>) throws(ValidationError) -> Duration {
        do { return try DurationText.parse(text, in: range) } catch { throw ValidationError("\(option): \(error)") }
    }
}

/// A whole-number option (`--limit 50`).
struct CountArgument: ExpressibleByArgument, Sendable {
    let text: String

    init(argument: String) { text = argument }

    var defaultValueDescription: String { text }

    func value(_ option: String, in range: ClosedRange<Int>) throws(ValidationError) -> Int {
        do { return try NumberText.integer(text, in: range) } catch { throw ValidationError("\(option): \(error)") }
    }
}

/// A point in time (`--until 2h`, `--since 2026-11-22T10:00:00Z`): a duration from now (ahead
/// or ago, as the option means it), `now`, or ISO 8601 (a date alone is UTC midnight).
struct MomentArgument: ExpressibleByArgument, Sendable {
    enum Direction: Sendable { case ahead, ago }

    /// Times a person can mean: from 1970 to the end of year 9999, in Unix milliseconds.
    static let range: ClosedRange<Int64> = 0 ... 253_402_300_799_999

    let text: String

    init(argument: String) { text = argument }

    var defaultValueDescription: String { text }

    /// Unix milliseconds, computed with checked arithmetic and within `range`.
    func millis(_ option: String, now: Int64, _ direction: Direction) throws(ValidationError) -> Int64 {
        let result: Int64?
        if text == "now" {
            result = now
        } else if let relative = DurationText.parse(text) {
            let ms = relative.saturatingMillis
            let (value, overflow) = direction == .ahead ? now.addingReportingOverflow(ms) : now.subtractingReportingOverflow(ms)
            result = overflow ? nil : value
        } else if let date = Self.iso(text) {
            result = (date.timeIntervalSince1970 * 1_000).saturatingInteger(Int64.self)
        } else {
            throw ValidationError("\(option): '\(text)' is neither a duration (2h, 30m, 7d; at most \(DurationText.format(DurationText.maximum))) nor an ISO 8601 time (2026-11-22T10:00:00Z)")
        }
        guard let result, Self.range.contains(result) else {
            throw ValidationError("\(option): '\(text)' is outside 1970-01-01 ... 9999-12-31")
        }
        return result
    }

    private static func iso(_ text: String) -> Date? {
        let full = ISO8601DateFormatter()
        full.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let dateOnly = ISO8601DateFormatter()
        dateOnly.formatOptions = [.withFullDate]
        return [full, ISO8601DateFormatter(), dateOnly].lazy.compactMap { $0.date(from: text) }.first
    }
}
