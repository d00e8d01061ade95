import EdgeCore
import Foundation
import Hummingbird
import Synchronization

/// Failed admin logins per client address: after `maxFailures` within `window`, that
/// address gets 429 for the rest of the window, whatever token it sends, so the admin
/// token cannot be guessed at network speed. Memory is bounded: at most `maxAddresses`
/// addresses are tracked, and expired windows are dropped first.
final class AdminGuard: Sendable {
    private struct Record {
        var failures: Int
        var windowStart: ContinuousClock.Instant
    }

    private let records = Mutex<[String: Record]>([:])
    let maxFailures: Int
    let window: Duration
    static let maxAddresses = 10_000

    init(maxFailures: Int, window: Duration) {
        self.maxFailures = maxFailures
        self.window = window
    }

    /// Seconds until `address` may try again, or `nil` if it may try now.
    func retryAfter(_ address: String, now: ContinuousClock.Instant = .now) -> Int? {
        records.withLock { records in
            guard let record = records[address] else { return nil }
            let elapsed = record.windowStart.duration(to: now)
            guard elapsed < window else {
                records[address] = nil
                return nil
            }
            guard record.failures >= maxFailures else { return nil }
            let left = window - elapsed
            return max(1, Int(clamping: left.secondsRoundedUp))
        }
    }

    /// Counts a failure; returns how many `address` has in the current window.
    @discardableResult
    func recordFailure(_ address: String, now: ContinuousClock.Instant = .now) -> Int {
        records.withLock { records in
            if records.count >= Self.maxAddresses, records[address] == nil {
                records = records.filter { $0.value.windowStart.duration(to: now) < window }
                if records.count >= Self.maxAddresses, let oldest = records.min(by: { $0.value.windowStart < $1.value.windowStart }) {
                    records[oldest.key] = nil
                }
            }
            var record = records[address] ?? Record(failures: 0, windowStart: now)
            if record.windowStart.duration(to: now) >= window { record = Record(failures: 0, windowStart: now) }
            record.failures += 1
            records[address] = record
            return record.failures
        }
    }
}

/// The admin token check every admin route makes. Failures are logged with the client's
/// address (never the token) and counted per address; past `adminFailuresAllowed` in a
/// window the address gets 429 without its token being looked at.
public struct AdminAuthenticator: Sendable {
    let tokenHash: TokenHash?
    let `guard`: AdminGuard

    public func require(_ request: Request, context: FleetRequestContext) throws {
        guard let expected = tokenHash else {
            throw FleetError(.forbidden, "forbidden", "the admin API is off; start the server with --admin-token-file")
        }
        let address = context.clientAddress
        if let wait = `guard`.retryAfter(address) {
            throw FleetError(.tooManyRequests, "too_many_attempts",
                             "too many failed admin logins from \(address); retry in \(wait) s", retryAfter: wait)
        }
        guard let token = DeviceToken.bearer(request.headers[.authorization]), TokenHash(of: token).matches(expected) else {
            let failures = `guard`.recordFailure(address)
            context.logger.warning("admin authentication failed", metadata: [
                "client": "\(address)", "path": "\(request.uri.path)", "failures": "\(failures)",
                "token": "\(request.headers[.authorization] == nil ? "none" : "wrong")",
            ])
            throw FleetError(.unauthorized, "unauthorized", "the admin API needs Authorization: Bearer <admin token>")
        }
    }
}
