#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Wire

/// One ntfy publish (https://docs.ntfy.sh/publish/): a POST of `body` to the topic URL with
/// the `X-Title`, `X-Priority`, `X-Tags` and `X-Click` headers. Pure: the same group of
/// events always renders the same message, which the tests assert byte for byte.
public struct NtfyMessage: Sendable, Hashable {
    public var title: String
    /// ntfy's 1 (min) … 5 (max); 5 makes a phone ring through do-not-disturb on most setups.
    public var priority: Int
    /// ntfy turns known tags into emoji in front of the title.
    public var tags: [String]
    public var click: String?
    public var body: String

    /// Renders a group of events (ascending sequence, one target's grouping window).
    /// - Parameters:
    ///   - device: the device name, so a keeper with two tanks knows which one.
    ///   - click: where tapping the notification leads (the local dashboard), if anywhere.
    public init(events: [WireAlertEvent], device: String, click: String? = nil) {
        precondition(!events.isEmpty, "a message needs at least one event")
        self.click = click
        priority = Self.priority(events)
        tags = Self.tags(events)
        if events.count == 1, let event = events.first {
            title = "\(device): \(event.ruleID) \(event.kind.verb)"
            body = event.message
        } else {
            let counts = Dictionary(grouping: events, by: \.kind).mapValues(\.count)
            let parts = AlertEventKind.allCases.compactMap { kind in counts[kind].map { "\($0) \(kind.verb)" } }
            title = "\(device): \(events.count) alerts (\(parts.joined(separator: ", ")))"
            body = events.map { "\(NotifyTime.clock($0.timestampMillis)) \($0.ruleID) \($0.kind.verb): \($0.message)" }
                .joined(separator: "\n")
        }
    }

    /// Renders any content: events as above, and the messages that tell of no single event
    /// (summary, reminder, still firing, test) in the same shape, so every kind carries them.
    public init(content: NotifyContent, device: String, click: String? = nil) {
        switch content {
        case .events(let events, _):
            self.init(events: events, device: device, click: click)
        case .summary(let summary, _):
            let alerts = "alert\(summary.count == 1 ? "" : "s")"
            let urgent = summary.byKind.keys.contains { [.fired, .failSafe, .flapping].contains($0) }
            let title = switch summary.reason {
            case .offline: "\(device): \(summary.count) \(alerts) while offline"
            case .rateCapped: "\(device): \(summary.count) more \(alerts)"
            }
            self.init(title: title,
                      priority: urgent ? 4 : 3, tags: [urgent ? "warning" : "information_source", "summary"], click: click,
                      body: summary.text)
        case .reminder(let rule, _):
            self.init(title: "\(device): \(rule.ruleID) still firing", priority: Self.priority(firing: rule.severity),
                      tags: ["rotating_light", rule.severity.rawValue, "repeat"], click: click,
                      body: "\(rule.message)\nFiring since \(NotifyTime.clock(rule.firingSinceMillis)) UTC; "
                          + "`edge-agent alerts ack \(rule.ruleID)` stops these reminders.")
        case .stillFiring(let rules, _, _):
            let priority = rules.map { Self.priority(firing: $0.severity) }.max() ?? 3
            var tags = [priority == 5 ? "rotating_light" : priority == 4 ? "warning" : "information_source"]
            for tag in rules.map(\.severity.rawValue) + ["firing"] where !tags.contains(tag) { tags.append(tag) }
            self.init(title: rules.count == 1 ? "\(device): \(rules[0].ruleID) still firing" : "\(device): \(rules.count) alerts still firing",
                      priority: priority, tags: tags, click: click,
                      body: rules.map { "\($0.ruleID) (\($0.severity.rawValue)) firing since \(NotifyTime.clock($0.firingSinceMillis)): \($0.message)" }
                          .joined(separator: "\n"))
        case .test(let at):
            self.init(title: "\(device): test message", priority: 3, tags: ["white_check_mark", "test"], click: click,
                      body: "Sent by `edge-agent notify test` at \(NotifyTime.clock(at)) UTC: alerts from \(device) reach you here.")
        }
    }

    public init(title: String, priority: Int, tags: [String], click: String?, body: String) {
        self.title = title
        self.priority = priority
        self.tags = tags
        self.click = click
        self.body = body
    }

    /// A firing rule's priority by its severity, as `priority(_:)` rates a fired event.
    static func priority(firing severity: AlertSeverity) -> Int {
        severity == .critical ? 5 : severity == .warning ? 4 : 3
    }

    /// The request headers, in a fixed order; the title and click as `HeaderText` (UTF-8
    /// as an encoded word, which ntfy decodes; never a line break).
    public var headers: [(name: String, value: String)] {
        var result = [("X-Title", HeaderText.encoded(title)), ("X-Priority", String(priority)), ("X-Tags", tags.joined(separator: ","))]
        if let click { result.append(("X-Click", HeaderText.encoded(click))) }
        return result
    }

    /// The most urgent event decides: a firing critical or a fail-safe rings (5), a firing
    /// warning is high (4), anything else, resolutions included, is ntfy's default (3), so
    /// "it is over" never wakes anyone.
    package static func priority(_ events: [WireAlertEvent]) -> Int {
        events.map { event -> Int in
            switch event.kind {
            case .failSafe: 5
            case .fired, .flapping, .actuated: priority(firing: event.severity)
            default: 3
            }
        }.max() ?? 3
    }

    /// The emoji tag of the most urgent event first, then each severity and kind once.
    package static func tags(_ events: [WireAlertEvent]) -> [String] {
        let urgent = priority(events)
        let allResolved = events.allSatisfy { $0.kind == .resolved || $0.kind == .flappingEnded }
        let emoji = allResolved ? "white_check_mark" : urgent == 5 ? "rotating_light" : urgent == 4 ? "warning" : "information_source"
        var result = [emoji]
        for event in events {
            for tag in [event.severity.rawValue, event.kind.rawValue] where !result.contains(tag) { result.append(tag) }
        }
        return result
    }
}

extension AlertEventKind {
    /// How a message says what happened to a rule.
    package var verb: String {
        switch self {
        case .fired: "fired"
        case .resolved: "resolved"
        case .flapping: "flapping"
        case .flappingEnded: "stopped flapping"
        case .acknowledged: "acknowledged"
        case .silenced: "silenced"
        case .unsilenced: "unsilenced"
        case .maintenanceStarted: "maintenance started"
        case .maintenanceEnded: "maintenance ended"
        case .actuated: "actuated"
        case .failSafe: "fail-safe"
        }
    }
}

/// UTC times for messages and payloads, formatted without Foundation's formatters (whose
/// output differs between platforms) so the rendered bytes are the same everywhere.
package enum NotifyTime {
    /// `2026-12-03T14:02:05.120Z`, RFC 3339 as Alertmanager receivers parse it.
    package static func rfc3339(_ millis: Int64) -> String {
        let parts = utc(millis)
        let ms = Int((millis % 1000 + 1000) % 1000)
        return "\(pad(parts.year, 4))-\(pad(parts.month, 2))-\(pad(parts.day, 2))T"
            + "\(pad(parts.hour, 2)):\(pad(parts.minute, 2)):\(pad(parts.second, 2)).\(pad(ms, 3))Z"
    }

    /// `14:02:05` (UTC), for the lines of a grouped message.
    package static func clock(_ millis: Int64) -> String {
        let parts = utc(millis)
        return "\(pad(parts.hour, 2)):\(pad(parts.minute, 2)):\(pad(parts.second, 2))"
    }

    private static func utc(_ millis: Int64) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        var seconds = time_t(millis >= 0 ? millis / 1000 : (millis - 999) / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return (Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
