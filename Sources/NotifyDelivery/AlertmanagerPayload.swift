import Foundation
import Wire

/// The generic webhook's body: Alertmanager's webhook payload, version 4, so receivers built
/// for Alertmanager (Alerta, Grafana OnCall, n8n flows, home-made bridges) work unchanged.
///
/// Alertmanager sends alert state, not a log: one alert per rule in a group, carrying its
/// latest event. A rule that fired and resolved inside one grouping window goes as one
/// resolved alert with both `startsAt` and `endsAt`, which is how Alertmanager itself reports
/// it. `fingerprint` depends only on the alert's identity labels, so the firing and the
/// resolved notification of one episode carry the same one, as receivers expect.
public struct AlertmanagerPayload: Codable, Sendable, Hashable {
    public struct Alert: Codable, Sendable, Hashable {
        public var status: String
        public var labels: [String: String]
        public var annotations: [String: String]
        public var startsAt: String
        public var endsAt: String
        public var generatorURL: String
        public var fingerprint: String
    }

    public var version = "4"
    public var groupKey: String
    public var truncatedAlerts = 0
    public var status: String
    public var receiver: String
    public var groupLabels: [String: String]
    public var commonLabels: [String: String]
    public var commonAnnotations: [String: String]
    public var externalURL: String
    public var alerts: [Alert]

    /// Alertmanager's zero time, its way of saying "has not ended".
    public static let notEnded = "0001-01-01T00:00:00Z"

    /// - Parameters:
    ///   - events: one target's group, ascending sequence.
    ///   - externalURL: where the receiver can link back to (the device's dashboard), or "".
    public init(target: String, device: String, events: [WireAlertEvent], externalURL: String = "") {
        precondition(!events.isEmpty, "a payload needs at least one event")
        var latest: [String: WireAlertEvent] = [:]
        var order: [String] = []
        for event in events {
            let identity = event.ruleID + "\u{0}" + event.sensorID
            if latest[identity] == nil { order.append(identity) }
            latest[identity] = event
        }
        self.init(target: target, device: device, alerts: order.map { Self.alert(latest[$0]!, device: device, generatorURL: externalURL) },
                  externalURL: externalURL)
    }

    /// Any content: events as above; a still-firing rule (reminder, state after an outage) as
    /// its firing alert, with the fingerprint of the episode's `fired` alert, so a receiver
    /// updates the alert it has rather than opening another; a summary or a test message as
    /// one resolved alert of its own (`reef-edge-summary`, `reef-edge-test`) that a receiver
    /// shows and never keeps open.
    public init(target: String, device: String, content: NotifyContent, externalURL: String = "") {
        if case .events(let events, _) = content {
            self.init(target: target, device: device, events: events, externalURL: externalURL)
            return
        }
        let text = NtfyMessage(content: content, device: device)
        let alerts: [Alert] = switch content {
        case .events: []
        case .summary(let summary, _):
            [Self.notice("reef-edge-summary", severity: text.priority >= 4 ? "warning" : "info", event: "summary",
                         text: summary.text, from: summary.firstMillis, to: summary.lastMillis, device: device,
                         generatorURL: externalURL)]
        case .reminder(let rule, _):
            [Self.alert(firing: rule, event: "repeat", device: device, generatorURL: externalURL)]
        case .stillFiring(let rules, _, _):
            rules.map { Self.alert(firing: $0, event: "firing", device: device, generatorURL: externalURL) }
        case .test(let at):
            [Self.notice("reef-edge-test", severity: "info", event: "test", text: text.body, from: at, to: at, device: device,
                         generatorURL: externalURL)]
        }
        self.init(target: target, device: device, alerts: alerts, externalURL: externalURL)
    }

    private init(target: String, device: String, alerts: [Alert], externalURL: String) {
        self.init(receiver: target, groupKey: "{}/{notify_target=\"\(target)\"}:{device=\"\(device)\"}",
                  groupLabels: ["device": device], alerts: alerts, externalURL: externalURL)
    }

    /// Any group of alerts: the fleet server's groups name their route and group labels.
    package init(receiver: String, groupKey: String, groupLabels: [String: String], alerts: [Alert], externalURL: String) {
        self.alerts = alerts
        status = alerts.contains { $0.status == "firing" } ? "firing" : "resolved"
        self.receiver = receiver
        self.groupLabels = groupLabels
        self.groupKey = groupKey
        commonLabels = Self.common(alerts.map(\.labels))
        commonAnnotations = Self.common(alerts.map(\.annotations))
        self.externalURL = externalURL
    }

    /// The body as sent: keys sorted and slashes unescaped, so the same group is the same bytes.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Only strings, ints and arrays of them: encoding cannot fail.
        return try! encoder.encode(self)
    }

    package static func alert(_ event: WireAlertEvent, device: String, generatorURL: String) -> Alert {
        var labels = ["alertname": event.ruleID, "sensor": event.sensorID, "severity": event.severity.rawValue, "device": device]
        if let output = event.output { labels["output"] = output }
        var annotations = ["summary": event.message, "event": event.kind.rawValue, "sequence": String(event.sequence)]
        if let value = event.value { annotations["value"] = format(value) }
        if let threshold = event.threshold { annotations["threshold"] = format(threshold) }
        let ended = event.kind == .resolved || event.kind == .flappingEnded
        return Alert(
            status: ended ? "resolved" : "firing", labels: labels, annotations: annotations,
            startsAt: NotifyTime.rfc3339(event.activeSinceMillis ?? event.timestampMillis),
            endsAt: ended ? NotifyTime.rfc3339(event.timestampMillis) : notEnded,
            generatorURL: generatorURL, fingerprint: fingerprint(labels))
    }

    static func alert(firing rule: FiringRule, event: String, device: String, generatorURL: String) -> Alert {
        let labels = ["alertname": rule.ruleID, "sensor": rule.sensorID, "severity": rule.severity.rawValue, "device": device]
        return Alert(status: "firing", labels: labels, annotations: ["summary": rule.message, "event": event],
                     startsAt: NotifyTime.rfc3339(rule.firingSinceMillis), endsAt: notEnded, generatorURL: generatorURL,
                     fingerprint: fingerprint(labels))
    }

    package static func notice(_ name: String, severity: String, event: String, text: String, from: Int64, to: Int64, device: String,
                       generatorURL: String) -> Alert {
        let labels = ["alertname": name, "severity": severity, "device": device]
        return Alert(status: "resolved", labels: labels, annotations: ["summary": text, "event": event],
                     startsAt: NotifyTime.rfc3339(from), endsAt: NotifyTime.rfc3339(to), generatorURL: generatorURL,
                     fingerprint: fingerprint(labels))
    }

    /// 16 hex digits of FNV-1a 64 over the sorted labels: stable across runs and platforms
    /// (Swift's `hashValue` is seeded per process and would change on every restart).
    static func fingerprint(_ labels: [String: String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (name, value) in labels.sorted(by: { $0.key < $1.key }) {
            for byte in name.utf8 + [0xff] + value.utf8 + [0xff] {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The pairs every dictionary has with the same value.
    static func common(_ all: [[String: String]]) -> [String: String] {
        guard var result = all.first else { return [:] }
        for other in all.dropFirst() { result = result.filter { other[$0.key] == $0.value } }
        return result
    }

    /// `27.9`, not `27.899999999999999`: the shortest text that reads back as the same Double.
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}
