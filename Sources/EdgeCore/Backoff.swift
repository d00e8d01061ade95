#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Exponential backoff with full jitter: after the n-th consecutive failure (n from 0) the
/// wait is uniform in `[0, min(cap, base · 2ⁿ)]` milliseconds.
///
/// Full jitter, not "exponential plus a little noise": a fleet of devices that lost the
/// server together spreads its retries over the whole window instead of arriving in waves.
///
/// It lives in EdgeCore because two stages retry against services they do not control:
/// Sync (the fleet server) and Notify (ntfy, webhooks, Telegram, Pushover, SMTP).
public struct Backoff: Sendable, Hashable {
    public var base: Duration
    public var cap: Duration
    /// Consecutive failures since the last success.
    public private(set) var failures = 0

    public init(base: Duration = .seconds(1), cap: Duration = .seconds(300)) {
        precondition(base > .zero && cap >= base, "backoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
    }

    /// A backoff that has already counted `failures`, for a caller that keeps the count
    /// elsewhere: the fleet server's job queue keeps it in the job's row as its attempt.
    public init(base: Duration, cap: Duration, failures: Int) {
        self.init(base: base, cap: cap)
        self.failures = max(0, failures)
    }

    /// The ceiling of the jitter window for the next failure.
    public var ceiling: Duration {
        let baseMillis = base.saturatingMillis
        let capMillis = cap.saturatingMillis
        // 2ⁿ overflows long before it matters: past the cap the window stays at the cap.
        guard failures < 62, baseMillis <= capMillis >> Int64(failures) else { return .milliseconds(capMillis) }
        return .milliseconds(baseMillis << Int64(failures))
    }

    /// Counts a failure and returns how long to wait before the next attempt.
    public mutating func nextDelay(using random: inout some RandomNumberGenerator) -> Duration {
        let delay = Duration.milliseconds(Int64.random(in: 0...ceiling.saturatingMillis, using: &random))
        failures += 1
        return delay
    }

    public mutating func reset() { failures = 0 }
}

/// `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.
public enum RetryAfter {
    /// The wait the header asks for, relative to `nowMillis` for the date form, at most `cap`;
    /// nil when the value is neither form. A date in the past means "now".
    public static func delay(_ value: String, nowMillis: Int64, cap: Duration) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        let requested: Duration
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            // Too many digits for Int64 is still "a very long time".
            requested = Int64(trimmed).map { .seconds($0) } ?? cap
        } else if let dateMillis = parseHTTPDate(trimmed) {
            requested = .milliseconds(max(0, dateMillis - nowMillis))
        } else {
            return nil
        }
        return min(requested, cap)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Milliseconds since the epoch for the three date forms RFC 9110 requires a recipient to
    /// accept: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850
    /// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
    public static func parseHTTPDate(_ text: String) -> Int64? {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var day: Int?, month: Int?, year: Int?, clock: String?
        if fields.count == 6, fields[0].hasSuffix(","), fields[5] == "GMT" {
            day = Int(fields[1]); month = months.firstIndex(of: fields[2]); year = Int(fields[3]); clock = fields[4]
        } else if fields.count == 4, fields[0].hasSuffix(","), fields[3] == "GMT" {
            let parts = fields[1].split(separator: "-").map(String.init)
            guard parts.count == 3, let twoDigit = Int(parts[2]) else { return nil }
            day = Int(parts[0]); month = months.firstIndex(of: parts[1]); clock = fields[2]
            // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
            year = parts[2].count == 2 ? (twoDigit < 70 ? 2000 + twoDigit : 1900 + twoDigit) : twoDigit
        } else if fields.count == 5 {
            month = months.firstIndex(of: fields[1]); day = Int(fields[2]); clock = fields[3]; year = Int(fields[4])
        }
        guard let day, let month, let year, let clock else { return nil }
        let hms = clock.split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3, (1...31).contains(day), (0...23).contains(hms[0]), (0...59).contains(hms[1]),
              (0...60).contains(hms[2]), (1970...9999).contains(year) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hms[0])
        parts.tm_min = Int32(hms[1])
        parts.tm_sec = Int32(hms[2])
        return Int64(timegm(&parts)) * 1000
    }
}
