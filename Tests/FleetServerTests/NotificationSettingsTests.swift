import FleetServer
import Foundation
import NotifyDelivery
import Testing
import Wire

/// The pure half of the server's notifications: configuration checks, route matching and
/// grouping, the group schedule, offline thresholds, and the job arguments' shape.
@Suite struct NotificationSettingsTests {
    static let event = WireAlertEvent(sequence: 7, ruleID: "temp-high", sensorID: "tank", kind: .fired, severity: .warning, value: 28.5,
                                      threshold: 28, timestampMillis: 1_796_306_401_000, activeSinceMillis: 1_796_306_400_000,
                                      message: "Tank at 28.5 °C")

    @Test func everyBadKeyIsNamedByItsPath() {
        let settings = NotificationSettings(
            receivers: [
                NotificationReceiver(id: "hook", kind: .webhook, url: "http://hooks.example.net/a"),
                NotificationReceiver(id: "hook", kind: .telegram, url: "https://api.telegram.org"),
            ],
            routes: [
                NotificationRoute(id: "ok", receivers: ["hook"]),
                NotificationRoute(id: "Bad Id", receivers: []),
                NotificationRoute(id: "x", kinds: ["fired", "exploded"], receivers: ["pager"], groupWaitSeconds: 7200),
            ],
            defaults: NotificationDefaults(repeatIntervalSeconds: 5, offlineAfterSeconds: 0))
        #expect(settings.validationErrors() == [
            "notifications.receivers[0]: webhook needs an https:// url, not http://; alerts are never sent in plain text",
            "notifications.receivers[1].id: a second receiver named \"hook\"; ids must be unique",
            "notifications.receivers[1]: telegram needs recipient: the chat id the bot writes to",
            "notifications.defaults.repeatIntervalSeconds: 5; allowed 60 … 604800",
            "notifications.defaults.offlineAfterSeconds: 0; allowed 1 … 604800 (a week)",
            "notifications.routes[1].id: \"Bad Id\" must be 1–64 lower-case letters, digits, '-' or '_'",
            "notifications.routes[1].receivers: name at least one receiver",
            "notifications.routes[2].receivers[0]: no receiver named \"pager\"; configured: hook",
            "notifications.routes[2].kinds[1]: \"exploded\" is not a kind; use acknowledged, actuated, device_back, device_offline, failSafe, fired, flapping, flappingEnded, maintenanceEnded, maintenanceStarted, resolved, silenced, unsilenced",
            "notifications.routes[2].groupWaitSeconds: 7200; allowed 0 … 3600",
        ])
    }

    @Test func theConfigurationFileShapeDecodesWithDefaults() throws {
        let json = #"""
        {"receivers": [{"id": "hook", "kind": "webhook", "url": "https://hooks.example.net/am"}],
         "routes": [{"id": "garage", "labels": {"site": "garage*"}, "receivers": ["hook"], "groupBy": "site", "minSeverity": "critical"}],
         "defaults": {"groupWaitSeconds": 10}}
        """#
        let settings = try JSONDecoder().decode(NotificationSettings.self, from: Data(json.utf8))
        #expect(settings.validationErrors() == [])
        #expect(settings.routes == [NotificationRoute(id: "garage", labels: ["site": "garage*"], minSeverity: .critical, receivers: ["hook"],
                                                      groupBy: "site")])
        #expect(settings.defaults == NotificationDefaults(groupWaitSeconds: 10))
        #expect(settings.routes[0].timing(settings.defaults) == (10, 300, 14_400))
    }

    @Test func unknownKeysAreNamedByTheirPathInsteadOfTakingDefaults() throws {
        let json = #"""
        {"receivers": [{"id": "hook", "kind": "webhook", "url": "https://hooks.example.net/am", "token": "x"}],
         "routes": [{"id": "a", "receivers": ["hook"]}, {"id": "b", "receivers": ["hook"], "groupWait": 10}],
         "default": {}, "defaults": {"offlineAfter": 60}}
        """#
        let settings = try JSONDecoder().decode(NotificationSettings.self, from: Data(json.utf8))
        #expect(settings.validationErrors() == [
            "notifications.default: unknown key; allowed here: receivers, routes, defaults",
            "notifications.receivers[0].token: unknown key; allowed here: id, kind, url, credentialFile, recipient, sender, caFile",
            "notifications.defaults.offlineAfter: unknown key; allowed here: groupWaitSeconds, groupIntervalSeconds, repeatIntervalSeconds, offlineAfterSeconds",
            "notifications.routes[1].groupWait: unknown key; allowed here: id, devices, labels, minSeverity, rules, kinds, receivers, groupBy, groupWaitSeconds, groupIntervalSeconds, repeatIntervalSeconds, sendResolved",
        ])
    }

    @Test func routesMatchOnDeviceGlobsLabelGlobsSeverityRulesAndKinds() {
        let route = NotificationRoute(id: "r", devices: ["reef-*"], labels: ["site": "garage-?"], minSeverity: .warning,
                                      rules: ["temp-high"], receivers: ["hook"])
        #expect(route.matches(Self.event, device: "reef-1", labels: ["site": "garage-1"]))
        #expect(!route.matches(Self.event, device: "tank-1", labels: ["site": "garage-1"]))
        #expect(!route.matches(Self.event, device: "reef-1", labels: ["site": "garage-12"]))
        #expect(!route.matches(Self.event, device: "reef-1", labels: [:]))
        var info = Self.event
        info.severity = .info
        #expect(!route.matches(info, device: "reef-1", labels: ["site": "garage-1"]))
        var other = Self.event
        other.ruleID = "ph-low"
        #expect(!route.matches(other, device: "reef-1", labels: ["site": "garage-1"]))
        var acknowledged = Self.event
        acknowledged.kind = .acknowledged
        #expect(!route.matches(acknowledged, device: "reef-1", labels: ["site": "garage-1"]), "operator actions are not in the default kinds")

        let offlineOnly = NotificationRoute(id: "o", kinds: ["device_offline"], receivers: ["hook"])
        let offline = FleetMessage.offline(lastSeenMillis: 1000, thresholdSeconds: 300, atMillis: 301_000)
        #expect(offlineOnly.matches(offline, device: "reef-1", labels: [:]))
        #expect(!offlineOnly.matches(FleetMessage.back(offlineSinceMillis: 301_000, atMillis: 400_000), device: "reef-1", labels: [:]))
        #expect(!offlineOnly.matches(Self.event, device: "reef-1", labels: [:]))
    }

    @Test func groupsAreByDeviceOrByALabelAndADeviceWithoutTheLabelIsItsOwnGroup() {
        let bySite = NotificationRoute(id: "tanks", receivers: ["hook"], groupBy: "site")
        #expect(bySite.group(device: "reef-1", labels: ["site": "garage"]) == (#"{}/{route="tanks"}:{site="garage"}"#, ["site": "garage"]))
        #expect(bySite.group(device: "reef-1", labels: [:]) == (#"{}/{route="tanks"}:{device="reef-1"}"#, ["device": "reef-1"]))
        let byDevice = NotificationRoute(id: "tanks", receivers: ["hook"])
        #expect(byDevice.group(device: "reef-2", labels: ["site": "garage"]).key == #"{}/{route="tanks"}:{device="reef-2"}"#)
    }

    @Test func theScheduleWaitsGroupWaitThenGroupIntervalAndRepeatsWhatStillFires() {
        let timing = GroupSchedule.Timing(groupWaitSeconds: 30, groupIntervalSeconds: 300, repeatIntervalSeconds: 3600)
        func decide(pending: Int64?, last: Int64?, firing: Int = 0, inFlight: Bool = false, now: Int64) -> GroupSchedule.Decision {
            GroupSchedule.decide(pendingSinceMillis: pending, lastFlushMillis: last, firing: firing, inFlight: inFlight, timing: timing, nowMillis: now)
        }
        #expect(decide(pending: 0, last: nil, now: 29_999) == .wait)
        #expect(decide(pending: 0, last: nil, now: 30_000) == .flush)
        #expect(decide(pending: 0, last: nil, inFlight: true, now: 99_000) == .wait)
        #expect(decide(pending: 100_000, last: 90_000, firing: 1, now: 389_999) == .wait)
        #expect(decide(pending: 100_000, last: 90_000, firing: 1, now: 390_000) == .flush)
        #expect(decide(pending: nil, last: 90_000, firing: 1, now: 3_689_999) == .wait)
        #expect(decide(pending: nil, last: 90_000, firing: 1, now: 3_690_000) == .repeatFiring)
        #expect(decide(pending: nil, last: 90_000, firing: 0, now: 9_000_000) == .wait)
    }

    @Test func theOfflineThresholdIsTheOverrideOrTheLargerOfTheDefaultAndThreeSyncIntervals() {
        #expect(OfflineThreshold.seconds(override: nil, syncIntervalSeconds: nil, defaultSeconds: 300) == 300)
        #expect(OfflineThreshold.seconds(override: nil, syncIntervalSeconds: 30, defaultSeconds: 300) == 300)
        #expect(OfflineThreshold.seconds(override: nil, syncIntervalSeconds: 600, defaultSeconds: 300) == 1800)
        #expect(OfflineThreshold.seconds(override: 60, syncIntervalSeconds: 600, defaultSeconds: 300) == 60)
        #expect(OfflineThreshold.seconds(override: nil, syncIntervalSeconds: .infinity, defaultSeconds: 300) == 300)
    }

    @Test func theJobArgumentsRoundTripAndNameTheirFlush() throws {
        let args = NotifyJobArgs(receiver: "hook", route: "tanks", groupID: 12, flush: 3, groupKey: #"{}/{route="tanks"}:{device="reef-1"}"#,
                                 groupLabels: ["device": "reef-1"], notices: [FleetNotice(device: "reef-1", event: Self.event)])
        #expect(try NotifyJobArgs.decode(args.json) == args)
        #expect(args.uniqueKey == "notify/12/hook/3")
        #expect(args.newJob == NewJob(kind: "notify", receiver: "hook", args: args.json, uniqueKey: "notify/12/hook/3", priority: 1))
        #expect(args.json.hasPrefix(#"{"flush":3,"groupID":12,"groupKey":"{}/{route=\"tanks\"}:{device=\"reef-1\"}","groupLabels":{"device":"reef-1"},"notices":[{"device":"reef-1","event":{"#))
    }

    @Test func aSitesMessageNamesEachDeviceOnItsLine() {
        var second = Self.event
        second.timestampMillis += 61_000
        let message = FleetMessage(groupKey: #"{}/{route="tanks"}:{site="garage"}"#, groupLabels: ["site": "garage"],
                                   content: .notices([FleetNotice(device: "reef-1", event: Self.event), FleetNotice(device: "reef-2", event: second)]))
        #expect(message.text.title == "site=garage: 2 alerts (2 fired)")
        #expect(message.text.body == "14:00:01 reef-1 temp-high fired: Tank at 28.5 °C\n14:01:02 reef-2 temp-high fired: Tank at 28.5 °C")
        let payload = message.alertmanager(receiver: "hook")
        #expect(payload.alerts.map { $0.labels["device"] } == ["reef-1", "reef-2"])
        #expect(payload.groupKey == #"{}/{route="tanks"}:{site="garage"}"# && payload.groupLabels == ["site": "garage"])
        #expect(payload.commonLabels == ["alertname": "temp-high", "sensor": "tank", "severity": "warning"])
    }
}
