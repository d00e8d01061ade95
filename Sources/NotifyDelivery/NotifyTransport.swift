/// What one message becomes on the way out: an HTTP request (ntfy, webhook, Telegram,
/// Pushover) or an e-mail. Built purely (`NotifyRequest.build`, `EmailMessage`), carried by
/// a `NotifyTransport`.
public enum NotifyPayload: Sendable, Hashable {
    case http(NotifyRequest)
    /// Sent to the target's `smtps://` or `smtp://` URL (STARTTLS required), envelope from
    /// `message.from` to `message.to`.
    case email(EmailMessage)
}

/// What the service answered to one attempt: the outcome `DeliveryState` decides on, and
/// the service's own words (bounded), which `edge-agent notify test` prints and a dead
/// letter keeps.
public struct NotifyAnswer: Sendable, Hashable {
    public var outcome: DeliveryOutcome
    public var text: String

    public init(outcome: DeliveryOutcome, text: String) {
        self.outcome = outcome
        self.text = text
    }
}

/// Hands one payload to one target's service. The device's implementation is libcurl
/// (`CurlNotifyTransport`); it never throws: every failure is an outcome, so the pipeline
/// has one place that decides what a failure means (`DeliveryState`).
public protocol NotifyTransport: Sendable {
    /// - Parameters:
    ///   - credential: the secret from the target's credential file; for e-mail the SMTP
    ///     password (the user is `message.from`). HTTP payloads already carry theirs.
    func send(_ payload: NotifyPayload, to target: NotifyTarget, credential: String?) async -> NotifyAnswer
}
