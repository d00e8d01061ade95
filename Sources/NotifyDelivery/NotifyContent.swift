import Wire

/// What one message tells, before it is rendered for a kind: the delivery stage decides the
/// content, `NotifyContent.payload` renders it for any target, and `edge-agent notify test`
/// renders `.test` the same way, so a test message takes exactly the path an alert does.
///
/// Every content has one stable idempotency key (`idempotencyKey(target:)`), built from what
/// it covers, never from the attempt or the time it is sent, so a resend after a crash or a
/// retry carries the same key.
public enum NotifyContent: Sendable, Hashable {
    /// A group of events (ascending sequence) covering `range` of the event log.
    case events([WireAlertEvent], range: SequenceRange)
    /// Several events told as counts (offline collapse, rate cap), covering `range`.
    case summary(NotifySummary, range: SequenceRange)
    /// A still-firing critical rule nobody acknowledged, again (`RepeatSchedule`), due at `dueMillis`.
    case reminder(FiringRule, dueMillis: Int64)
    /// After an outage longer than max_age, what is firing now; follows the summary of
    /// the events through `afterSequence`.
    case stillFiring([FiringRule], afterSequence: Int64, atMillis: Int64)
    /// `edge-agent notify test`, at `atMillis`.
    case test(atMillis: Int64)

    public func idempotencyKey(target: String) -> String {
        switch self {
        case .events(_, let range), .summary(_, let range): IdempotencyKey.group(target: target, range: range)
        case .reminder(let rule, let due): IdempotencyKey.reminder(target: target, ruleID: rule.ruleID, dueMillis: due)
        case .stillFiring(_, let after, _): "reef-edge/\(target)/firing/\(after)"
        case .test(let at): "reef-edge/\(target)/test/\(at)"
        }
    }

    /// The time the message is about: the newest event, the summary's end, when the repeat
    /// fell due, when the state was read. E-mail's `Date` and Pushover's `timestamp`.
    public var timestampMillis: Int64 {
        switch self {
        case .events(let events, _): events.last?.timestampMillis ?? 0
        case .summary(let summary, _): summary.lastMillis
        case .reminder(_, let due): due
        case .stillFiring(_, _, let at), .test(let at): at
        }
    }

    /// The events this message delivers (counted as sent by the ledger).
    public var eventCount: Int {
        switch self {
        case .events(let events, _): events.count
        case .summary(let summary, _): summary.count
        case .reminder, .stillFiring, .test: 0
        }
    }

    /// The one function that renders any content for any target.
    /// - Parameters:
    ///   - device: the device name, so a keeper with two tanks knows which one.
    ///   - credential: the secret read from the target's credential file at send time; HTTP
    ///     kinds put it in the request, e-mail's goes to the transport as the SMTP password.
    ///   - click: where tapping the notification leads (the local dashboard), if anywhere.
    public func payload(target: NotifyTarget, device: String, credential: String?, click: String?) -> NotifyPayload {
        switch target.kind {
        case .email: .email(EmailMessage(target: target, device: device, content: self))
        default: .http(NotifyRequest.build(target: target, device: device, content: self, credential: credential, click: click))
        }
    }
}

extension IdempotencyKey {
    /// `reef-edge/<target>/repeat/<rule>/<due>`: one key per repeat of one episode.
    public static func reminder(target: String, ruleID: String, dueMillis: Int64) -> String {
        "reef-edge/\(target)/repeat/\(ruleID)/\(dueMillis)"
    }
}
