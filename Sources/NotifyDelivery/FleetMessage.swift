import Wire

/// One event as the fleet server tells it: which device it came from. A device going silent
/// and coming back are events too (`FleetMessage.offline` / `.back`), so routes, grouping and
/// every receiver kind treat them as they treat alerts.
public struct FleetNotice: Codable, Sendable, Hashable {
    public var device: String
    public var event: WireAlertEvent

    public init(device: String, event: WireAlertEvent) {
        self.device = device
        self.event = event
    }
}

/// What one fleet-server notification says: one group's notices (one route, one device or one
/// site), or a receiver test. Rendered for any receiver kind with the same shapes the device
/// uses (`NtfyMessage`, `AlertmanagerPayload`, `NotifyRequest`, `EmailMessage`), so a
/// receiver that reads a device's messages reads the server's.
public struct FleetMessage: Sendable, Hashable {
    public enum Content: Sendable, Hashable {
        /// Ascending by time; at least one.
        case notices([FleetNotice])
        /// `POST /v1/admin/receivers/{id}/test`, at `atMillis`.
        case test(atMillis: Int64)
    }

    /// Alertmanager's `groupKey`, e.g. `{}/{route="tanks"}:{site="garage"}`.
    public var groupKey: String
    /// What the group is grouped by, e.g. `["site": "garage"]` or `["device": "reef-1"]`.
    public var groupLabels: [String: String]
    public var content: Content

    public init(groupKey: String, groupLabels: [String: String], content: Content) {
        self.groupKey = groupKey
        self.groupLabels = groupLabels
        self.content = content
    }

    /// The `ruleID` of the notices the server raises itself (fired: offline, resolved: back).
    public static let offlineRule = "device_offline"

    /// A device silent since `lastSeenMillis`, noticed at `atMillis`: a critical firing alert.
    public static func offline(lastSeenMillis: Int64, thresholdSeconds: Int, atMillis: Int64) -> WireAlertEvent {
        WireAlertEvent(sequence: 0, ruleID: offlineRule, sensorID: "*", kind: .fired, severity: .critical, value: nil,
                       threshold: Double(thresholdSeconds), timestampMillis: atMillis, activeSinceMillis: lastSeenMillis,
                       message: "no batch since \(NotifyTime.rfc3339(lastSeenMillis)) (threshold \(thresholdSeconds) s)")
    }

    /// The device's next batch after an offline notice: the same alert, resolved (the same
    /// Alertmanager fingerprint, so a receiver closes what it opened).
    public static func back(offlineSinceMillis: Int64, atMillis: Int64) -> WireAlertEvent {
        WireAlertEvent(sequence: 0, ruleID: offlineRule, sensorID: "*", kind: .resolved, severity: .critical, value: nil,
                       threshold: nil, timestampMillis: atMillis, activeSinceMillis: offlineSinceMillis,
                       message: "sending again after silence since \(NotifyTime.rfc3339(offlineSinceMillis))")
    }

    /// The group's name in titles: the device, or `site=garage`.
    var groupName: String {
        groupLabels.sorted { $0.key < $1.key }.map { $0.key == "device" ? $0.value : "\($0.key)=\($0.value)" }
            .joined(separator: ",")
    }

    /// What a phone shows. One device's notices read exactly as that device's own message
    /// would; several devices' carry the device on each line.
    public var text: NtfyMessage {
        switch content {
        case .test(let at):
            return NtfyMessage(title: "reef fleet: test message", priority: 3, tags: ["white_check_mark", "test"], click: nil,
                               body: "Sent by the fleet server's receiver test at \(NotifyTime.clock(at)) UTC: the fleet's notifications reach you here.")
        case .notices(let notices):
            let devices = Set(notices.map(\.device))
            let events = notices.map(\.event)
            if devices.count == 1, let device = devices.first { return NtfyMessage(events: events, device: device) }
            var message = NtfyMessage(events: events, device: groupName)
            if notices.count > 1 {
                message.body = notices.map { "\(NotifyTime.clock($0.event.timestampMillis)) \($0.device) \($0.event.ruleID) \($0.event.kind.verb): \($0.event.message)" }
                    .joined(separator: "\n")
            }
            return message
        }
    }

    /// The webhook body: one alert per (device, rule, sensor), its latest notice.
    public func alertmanager(receiver: String) -> AlertmanagerPayload {
        let alerts: [AlertmanagerPayload.Alert]
        switch content {
        case .test(let at):
            alerts = [AlertmanagerPayload.notice("reef-edge-test", severity: "info", event: "test", text: text.body, from: at, to: at,
                                                 device: "fleet", generatorURL: "")]
        case .notices(let notices):
            var latest: [String: FleetNotice] = [:]
            var order: [String] = []
            for notice in notices {
                let identity = [notice.device, notice.event.ruleID, notice.event.sensorID].joined(separator: "\u{0}")
                if latest[identity] == nil { order.append(identity) }
                latest[identity] = notice
            }
            alerts = order.map { AlertmanagerPayload.alert(latest[$0]!.event, device: latest[$0]!.device, generatorURL: "") }
        }
        return AlertmanagerPayload(receiver: receiver, groupKey: groupKey, groupLabels: groupLabels, alerts: alerts, externalURL: "")
    }

    /// The time the message is about: the newest notice, or the test's time.
    public var timestampMillis: Int64 {
        switch content {
        case .test(let at): at
        case .notices(let notices): notices.map(\.event.timestampMillis).max() ?? 0
        }
    }

    /// Renders for `target` under `idempotencyKey` (the job's: every attempt the same), the
    /// webhook's `Idempotency-Key` and the e-mail's `Message-ID`.
    public func payload(target: NotifyTarget, credential: String?, idempotencyKey: String) -> NotifyPayload {
        let message = text
        switch target.kind {
        case .email:
            return .email(EmailMessage(target: target, message: message, idempotencyKey: idempotencyKey, dateMillis: timestampMillis,
                                       domain: "reef-fleet"))
        default:
            return .http(NotifyRequest.build(target: target, message: message, webhook: { alertmanager(receiver: target.id) },
                                             idempotencyKey: idempotencyKey, timestampMillis: timestampMillis,
                                             credential: credential, click: nil))
        }
    }
}
