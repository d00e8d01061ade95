import EdgeCore

/// What one attempt to hand a message to a service came to, as the transport saw it.
public enum DeliveryOutcome: Sendable, Hashable {
    /// 2xx, or SMTP 250 after the message data.
    case accepted
    /// No answer: DNS, connection refused, TLS handshake, reset. The text says which.
    case networkError(String)
    /// The service did not answer within the transport's timeout.
    case timeout
    /// Any HTTP answer but 2xx, with the service's reason (body or status text) and its
    /// `Retry-After` header if it sent one.
    case http(status: Int, reason: String, retryAfter: String? = nil)
    /// The SMTP server's last reply (libcurl's CURLINFO_RESPONSE_CODE) and its text. SMTP's
    /// classes are not HTTP's: 4yz is transient (mailbox busy, greylisting) and retried,
    /// 5yz is permanent (no such user, relaying denied) and dead-lettered (RFC 5321 §4.2.1).
    case smtp(code: Int, reason: String)

    /// What an outcome means, the same on the device (`DeliveryState`, a dead letter) and on
    /// the fleet server (a job's `retry` or `dead`): the one place that decides which answers
    /// are worth another attempt.
    public enum Verdict: Sendable, Hashable {
        /// 2xx, SMTP 2yz.
        case delivered
        /// Network error, timeout, 408, 429, 5xx, SMTP 4yz: again later, never sooner than
        /// `notBefore` (the service's `Retry-After`, capped) when it asked.
        case retry(reason: String, notBefore: Duration?)
        /// Any other answer (400, 401, 403, 404, 413, 422, an unfollowed 3xx, SMTP 5yz):
        /// retrying cannot help. `reason` is the service's words (or `HTTP 400` when it gave
        /// none), `text` the same with the status in front, for logs and status lines.
        case permanent(status: Int, reason: String, text: String)
    }

    /// - Parameters:
    ///   - nowMillis: the time a `Retry-After` date is measured from.
    ///   - retryAfterCap: the longest `Retry-After` honoured, so a misbehaving proxy cannot
    ///     silence a receiver for a week.
    public func verdict(nowMillis: Int64, retryAfterCap: Duration) -> Verdict {
        switch self {
        case .accepted:
            return .delivered
        case .networkError(let reason):
            return .retry(reason: "network error: \(reason)", notBefore: nil)
        case .timeout:
            return .retry(reason: "no answer before the timeout", notBefore: nil)
        case .http(let status, let reason, let retryAfter):
            if (200...299).contains(status) { return .delivered }
            let text = reason.isEmpty ? "HTTP \(status)" : "HTTP \(status): \(reason)"
            if status == 408 || status == 429 || (500...599).contains(status) {
                let asked = retryAfter.flatMap { RetryAfter.delay($0, nowMillis: nowMillis, cap: retryAfterCap) }
                return .retry(reason: text, notBefore: asked)
            }
            return .permanent(status: status, reason: reason.isEmpty ? "HTTP \(status)" : reason, text: text)
        case .smtp(let code, let reason):
            if (200...299).contains(code) { return .delivered }
            let text = reason.isEmpty ? "SMTP \(code)" : "SMTP \(code): \(reason)"
            if (400...499).contains(code) { return .retry(reason: text, notBefore: nil) }
            return .permanent(status: code, reason: reason.isEmpty ? "SMTP \(code)" : reason, text: text)
        }
    }
}
