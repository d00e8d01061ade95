import Foundation
import Notify
import NotifyDelivery
import Testing
import Wire

/// The exact bytes each kind sends for one group: a heater stuck on, the top-off float stuck,
/// then the temperature back (2026-12-03, UTC).
enum Heater {
    static let fired = WireAlertEvent(
        sequence: 41, ruleID: "temp-high", sensorID: "temp", kind: .fired, severity: .critical, value: 27.9,
        threshold: 27.5, timestampMillis: 1_796_306_525_120, activeSinceMillis: 1_796_306_280_000,
        message: "Temperature 27.9 °C above 27.5 °C")
    static let float = WireAlertEvent(
        sequence: 42, ruleID: "ato-stuck", sensorID: "ato-float", kind: .fired, severity: .warning, value: nil,
        threshold: nil, timestampMillis: 1_796_306_540_000, activeSinceMillis: 1_796_306_540_000,
        message: "Top-off float stuck")
    static let resolved = WireAlertEvent(
        sequence: 43, ruleID: "temp-high", sensorID: "temp", kind: .resolved, severity: .critical, value: 26.8,
        threshold: 27.5, timestampMillis: 1_796_306_545_000, activeSinceMillis: 1_796_306_280_000,
        message: "Temperature back to 26.8 °C")
}

@Suite struct NotifyRenderingTests {
    @Test func oneCriticalEventRingsWithItsRuleInTheTitle() {
        let message = NtfyMessage(events: [Heater.fired], device: "reef-1", click: "https://reef-1.local/alerts")
        #expect(message.title == "reef-1: temp-high fired")
        #expect(message.priority == 5)
        #expect(message.tags == ["rotating_light", "critical", "fired"])
        #expect(message.body == "Temperature 27.9 °C above 27.5 °C")
        #expect(message.headers.map { "\($0.name): \($0.value)" } == [
            "X-Title: reef-1: temp-high fired", "X-Priority: 5", "X-Tags: rotating_light,critical,fired",
            "X-Click: https://reef-1.local/alerts",
        ])
    }

    @Test func aResolutionNeverWakesAnyone() {
        let message = NtfyMessage(events: [Heater.resolved], device: "reef-1")
        #expect(message.priority == 3)
        #expect(message.tags == ["white_check_mark", "critical", "resolved"])
        #expect(message.headers.map(\.name) == ["X-Title", "X-Priority", "X-Tags"])
    }

    @Test func aGroupIsOneMessageWithALinePerEvent() {
        let message = NtfyMessage(events: [Heater.fired, Heater.float, Heater.resolved], device: "reef-1")
        #expect(message.title == "reef-1: 3 alerts (2 fired, 1 resolved)")
        #expect(message.priority == 5)
        #expect(message.tags == ["rotating_light", "critical", "fired", "warning", "resolved"])
        #expect(message.body == """
            14:02:05 temp-high fired: Temperature 27.9 °C above 27.5 °C
            14:02:20 ato-stuck fired: Top-off float stuck
            14:02:25 temp-high resolved: Temperature back to 26.8 °C
            """)
    }

    @Test func theWebhookBodyIsAlertmanagersVersion4ByteForByte() {
        let payload = AlertmanagerPayload(target: "hook", device: "reef-1", events: [Heater.fired, Heater.float, Heater.resolved],
                                          externalURL: "https://reef-1.local")
        let expected = #"{"alerts":[{"annotations":{"event":"resolved","sequence":"43","summary":"Temperature back to 26.8 °C","threshold":"27.5","value":"26.8"},"endsAt":"2026-12-03T14:02:25.000Z","fingerprint":"5b343b955580acc9","generatorURL":"https://reef-1.local","labels":{"alertname":"temp-high","device":"reef-1","sensor":"temp","severity":"critical"},"startsAt":"2026-12-03T13:58:00.000Z","status":"resolved"},{"annotations":{"event":"fired","sequence":"42","summary":"Top-off float stuck"},"endsAt":"0001-01-01T00:00:00Z","fingerprint":"bfcb2a6b0d9696b9","generatorURL":"https://reef-1.local","labels":{"alertname":"ato-stuck","device":"reef-1","sensor":"ato-float","severity":"warning"},"startsAt":"2026-12-03T14:02:20.000Z","status":"firing"}],"commonAnnotations":{},"commonLabels":{"device":"reef-1"},"externalURL":"https://reef-1.local","groupKey":"{}/{notify_target=\"hook\"}:{device=\"reef-1\"}","groupLabels":{"device":"reef-1"},"receiver":"hook","status":"firing","truncatedAlerts":0,"version":"4"}"#
        #expect(String(decoding: payload.json(), as: UTF8.self) == expected)
    }

    @Test func theFiringAndTheResolvedAlertOfOneEpisodeShareTheFingerprint() {
        let firing = AlertmanagerPayload(target: "hook", device: "reef-1", events: [Heater.fired])
        let resolved = AlertmanagerPayload(target: "hook", device: "reef-1", events: [Heater.resolved])
        #expect(firing.status == "firing" && resolved.status == "resolved")
        #expect(firing.alerts[0].fingerprint == resolved.alerts[0].fingerprint)
        #expect(firing.alerts[0].endsAt == AlertmanagerPayload.notEnded)
        #expect(firing.commonAnnotations["value"] == "27.9" && firing.commonAnnotations["threshold"] == "27.5")
    }

    @Test func aTitleBeyondASCIIIsOneEncodedWordAndNeverALineBreak() {
        let umlaut = NtfyMessage(events: [Heater.fired], device: "Küche")
        // ntfy decodes RFC 2047 in any header: the phone shows "Küche: temp-high fired".
        #expect(umlaut.headers.first { $0.name == "X-Title" }?.value == "=?UTF-8?B?S8O8Y2hlOiB0ZW1wLWhpZ2ggZmlyZWQ=?=")
        let injected = NtfyMessage(events: [Heater.fired], device: "reef-1\r\nAuthorization: Bearer x")
        #expect(injected.headers.allSatisfy { !$0.value.contains("\r") && !$0.value.contains("\n") })
        #expect(NtfyMessage(events: [Heater.fired], device: "reef-1").headers.first?.value == "reef-1: temp-high fired")
    }

    @Test func idempotencyKeysDependOnlyOnTheTargetAndTheEvents() {
        #expect(IdempotencyKey.event(target: "phone", sequence: 41) == "reef-edge/phone/41")
        #expect(IdempotencyKey.group(target: "phone", range: SequenceRange(first: 41, last: 41)) == "reef-edge/phone/41")
        #expect(IdempotencyKey.group(target: "phone", range: SequenceRange(first: 41, last: 43)) == "reef-edge/phone/41-43")
        #expect(IdempotencyKey.group(target: "hook", range: SequenceRange(first: 41, last: 43)) == "reef-edge/hook/41-43")
    }
}
