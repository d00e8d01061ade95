import Foundation
import Wire

/// What the engine does with one attempt's outcome. The table is in docs/SYNC.md.
public enum Disposition: Sendable, Hashable {
    /// 2xx: the body is a `SyncAck`.
    case acknowledged
    /// Network or TLS failure, 5xx, 408, 429: the same rows go again after a backoff
    /// (or the server's `Retry-After`).
    case retry(reason: String)
    /// 413: the batch was too large for this server; send half as many rows.
    case split(reason: String)
    /// 401 or 403: the device's credentials or identity are wrong. No batch is at fault,
    /// so none is quarantined: the backlog stays where it is and the engine retries at
    /// the backoff cap until an operator fixes the token or the device id.
    case credentials(status: Int, reason: String)
    /// Any other 4xx: this batch will never be accepted as it is. It goes to the dead-letter
    /// table and the engine moves on to the next rows.
    case quarantine(status: Int, reason: String)

    public static func classify(_ outcome: Result<TransportResponse, TransportError>) -> Disposition {
        switch outcome {
        case .failure(let error):
            return .retry(reason: error.description)
        case .success(let response):
            let reason = serverReason(response)
            switch response.status {
            case 200..<300: return .acknowledged
            case 408, 429, 500..<600: return .retry(reason: "HTTP \(response.status): \(reason)")
            case 413: return .split(reason: "HTTP 413: \(reason)")
            case 401, 403: return .credentials(status: response.status, reason: reason)
            case 400..<500: return .quarantine(status: response.status, reason: reason)
            // 1xx and 3xx are not answers this protocol uses (libcurl does not follow
            // redirects here): a proxy or a misconfigured URL. Retrying may be answered differently.
            default: return .retry(reason: "unexpected HTTP \(response.status): \(reason)")
            }
        }
    }

    /// The server's own words: a `WireError` body (gzip or plain JSON), else the start of
    /// the body as text, bounded so that a proxy's HTML page does not fill the dead-letter table.
    static func serverReason(_ response: TransportResponse) -> String {
        if let error = try? WireCodec.decodeAnswer(WireError.self, response.body) {
            return "\(error.error): \(error.reason)"
        }
        let text = String(decoding: response.body.prefix(300), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "no reason given" : text
    }
}
