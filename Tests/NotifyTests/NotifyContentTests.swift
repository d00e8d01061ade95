import Foundation
import Notify
import NotifyDelivery
import Testing
import Wire

/// Every content renders for every kind, with its own stable idempotency key.
@Suite struct NotifyContentTests {
    static let heater = FiringRule(ruleID: "temp-high", sensorID: "temp", severity: .critical,
                                   firingSinceMillis: 1_796_306_280_000, message: "Temperature 27.9 °C above 27.5 °C")
    static let float = FiringRule(ruleID: "ato-stuck", sensorID: "ato-float", severity: .warning,
                                  firingSinceMillis: 1_796_306_540_000, message: "Top-off float stuck")
    static let offline = NotifySummary(.offline, events: [Heater.fired, Heater.float, Heater.resolved])
    static let phone = NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef")
    static let hook = NotifyTarget(id: "hook", kind: .webhook, url: "https://alerts.example.org/hook")
    static let mail = NotifyTarget(id: "mail", kind: .email, url: "smtps://mail.example.org:465", credentialFile: "/etc/reef/smtp",
                                   recipient: "keeper@example.org", sender: "reef@example.org")

    static func dump(_ payload: NotifyPayload) -> String {
        switch payload {
        case .http(let request):
            ([request.method + " " + request.redactedURL] + request.headers.map(\.description) + ["", String(decoding: request.body, as: UTF8.self)])
                .joined(separator: "\n")
        case .email(let mail): mail.rendered
        }
    }

    @Test func eachContentHasItsOwnStableKey() {
        let range = SequenceRange(first: 41, last: 43)
        #expect(NotifyContent.events([Heater.fired], range: range).idempotencyKey(target: "phone") == "reef-edge/phone/41-43")
        #expect(NotifyContent.summary(Self.offline, range: range).idempotencyKey(target: "phone") == "reef-edge/phone/41-43")
        #expect(NotifyContent.reminder(Self.heater, dueMillis: 1_796_313_480_000).idempotencyKey(target: "phone")
            == "reef-edge/phone/repeat/temp-high/1796313480000")
        #expect(NotifyContent.reminder(Self.heater, dueMillis: 1_796_313_480_000).idempotencyKey(target: "phone")
            == RepeatSchedule.key(target: "phone", rule: Self.heater, lastSentMillis: nil, interval: .seconds(7200)))
        #expect(NotifyContent.stillFiring([Self.heater], afterSequence: 43, atMillis: 5).idempotencyKey(target: "phone")
            == "reef-edge/phone/firing/43")
        #expect(NotifyContent.test(atMillis: 1_796_306_525_120).idempotencyKey(target: "phone") == "reef-edge/phone/test/1796306525120")
    }

    @Test func theNtfyMessageOfAFiredTemperatureCarriesTheValueAndItsThreshold() {
        let payload = NotifyContent.events([Heater.fired], range: SequenceRange(first: 41, last: 41))
            .payload(target: Self.phone, device: "reef-1", credential: nil, click: nil)
        #expect(Self.dump(payload) == """
            POST https://ntfy.example.org/reef
            X-Title: reef-1: temp-high fired
            X-Priority: 5
            X-Tags: rotating_light,critical,fired
            Content-Type: text/plain; charset=utf-8

            Temperature 27.9 °C above 27.5 °C
            """)
    }

    @Test func anOfflineSummaryOnNtfyGivesExactCounts() {
        let payload = NotifyContent.summary(Self.offline, range: SequenceRange(first: 41, last: 43))
            .payload(target: Self.phone, device: "reef-1", credential: "tk", click: "https://reef-1.local")
        #expect(Self.dump(payload) == """
            POST https://ntfy.example.org/reef
            X-Title: reef-1: 3 alerts while offline
            X-Priority: 4
            X-Tags: warning,summary
            X-Click: https://reef-1.local
            Content-Type: text/plain; charset=utf-8
            Authorization: Bearer tk

            3 alerts from 14:02:05 to 14:02:25 while offline: 2 fired, 1 resolved — edge-agent alerts history
            """)
    }

    @Test func aReminderSaysHowToStopIt() {
        let payload = NotifyContent.reminder(Self.heater, dueMillis: 1_796_313_480_000)
            .payload(target: Self.phone, device: "reef-1", credential: nil, click: nil)
        #expect(Self.dump(payload) == """
            POST https://ntfy.example.org/reef
            X-Title: reef-1: temp-high still firing
            X-Priority: 5
            X-Tags: rotating_light,critical,repeat
            Content-Type: text/plain; charset=utf-8

            Temperature 27.9 °C above 27.5 °C
            Firing since 13:58:00 UTC; `edge-agent alerts ack temp-high` stops these reminders.
            """)
    }

    @Test func theStateAfterAnOutageListsEveryFiringRule() {
        let payload = NotifyContent.stillFiring([Self.float, Self.heater], afterSequence: 43, atMillis: 1_796_313_480_000)
            .payload(target: Self.phone, device: "reef-1", credential: nil, click: nil)
        #expect(Self.dump(payload) == """
            POST https://ntfy.example.org/reef
            X-Title: reef-1: 2 alerts still firing
            X-Priority: 5
            X-Tags: rotating_light,warning,critical,firing
            Content-Type: text/plain; charset=utf-8

            ato-stuck (warning) firing since 14:02:20: Top-off float stuck
            temp-high (critical) firing since 13:58:00: Temperature 27.9 °C above 27.5 °C
            """)
    }

    @Test func aReminderOnTheWebhookIsTheEpisodesFiringAlertAgain() throws {
        let payload = NotifyContent.reminder(Self.heater, dueMillis: 1_796_313_480_000)
            .payload(target: Self.hook, device: "reef-1", credential: nil, click: nil)
        guard case .http(let request) = payload else { Issue.record("the webhook is HTTP"); return }
        #expect(request.headers.map(\.description)
            == ["Content-Type: application/json", "Idempotency-Key: reef-edge/hook/repeat/temp-high/1796313480000"])
        let body = try JSONDecoder().decode(AlertmanagerPayload.self, from: Data(request.body))
        let fired = AlertmanagerPayload(target: "hook", device: "reef-1", events: [Heater.fired])
        #expect(body.status == "firing" && body.alerts.count == 1)
        #expect(body.alerts[0].fingerprint == fired.alerts[0].fingerprint, "the receiver updates the alert it has")
        #expect(body.alerts[0].annotations == ["summary": "Temperature 27.9 °C above 27.5 °C", "event": "repeat"])
        #expect(body.alerts[0].startsAt == "2026-12-03T13:58:00.000Z" && body.alerts[0].endsAt == AlertmanagerPayload.notEnded)
    }

    @Test func aSummaryOnTheWebhookIsOneResolvedNoticeByteForByte() {
        let payload = NotifyContent.summary(Self.offline, range: SequenceRange(first: 41, last: 43))
            .payload(target: Self.hook, device: "reef-1", credential: nil, click: nil)
        #expect(Self.dump(payload) == """
            POST https://alerts.example.org/hook
            Content-Type: application/json
            Idempotency-Key: reef-edge/hook/41-43

            {"alerts":[{"annotations":{"event":"summary","summary":"3 alerts from 14:02:05 to 14:02:25 while offline: 2 fired, 1 resolved — edge-agent alerts history"},"endsAt":"2026-12-03T14:02:25.000Z","fingerprint":"108e2003b1aa3a1e","generatorURL":"","labels":{"alertname":"reef-edge-summary","device":"reef-1","severity":"warning"},"startsAt":"2026-12-03T14:02:05.120Z","status":"resolved"}],"commonAnnotations":{"event":"summary","summary":"3 alerts from 14:02:05 to 14:02:25 while offline: 2 fired, 1 resolved — edge-agent alerts history"},"commonLabels":{"alertname":"reef-edge-summary","device":"reef-1","severity":"warning"},"externalURL":"","groupKey":"{}/{notify_target=\\"hook\\"}:{device=\\"reef-1\\"}","groupLabels":{"device":"reef-1"},"receiver":"hook","status":"resolved","truncatedAlerts":0,"version":"4"}
            """)
    }

    @Test func aTestMessageGoesByMailWithItsOwnMessageID() {
        let payload = NotifyContent.test(atMillis: 1_796_306_525_120).payload(target: Self.mail, device: "reef-1",
                                                                             credential: "pw", click: nil)
        #expect(Self.dump(payload) == [
            "From: reef@example.org",
            "To: keeper@example.org",
            "Subject: reef-1: test message",
            "Date: Thu, 03 Dec 2026 14:02:05 +0000",
            "Message-ID: <reef-edge.mail.test.1796306525120@reef-1>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            "U2VudCBieSBgZWRnZS1hZ2VudCBub3RpZnkgdGVzdGAgYXQgMTQ6MDI6MDUgVVRDOiBhbGVydHMg",
            "ZnJvbSByZWVmLTEgcmVhY2ggeW91IGhlcmUu",
            "",
        ].joined(separator: "\r\n"))
    }

    @Test func telegramAndPushoverCarryATestMessage() {
        let telegram = NotifyTarget(id: "tg", kind: .telegram, url: "https://api.telegram.org", credentialFile: "/etc/reef/bot",
                                    recipient: "-100123")
        let pushover = NotifyTarget(id: "po", kind: .pushover, url: "https://api.pushover.net/1/messages.json",
                                    credentialFile: "/etc/reef/pushover", recipient: "ukey")
        let content = NotifyContent.test(atMillis: 1_796_306_525_120)
        #expect(Self.dump(content.payload(target: telegram, device: "reef-1", credential: "123:ABC", click: nil)) == """
            POST https://api.telegram.org/bot<redacted>/sendMessage
            Content-Type: application/json

            {"chat_id":"-100123","disable_notification":true,"text":"reef-1: test message\\n\\nSent by `edge-agent notify test` at 14:02:05 UTC: alerts from reef-1 reach you here."}
            """)
        #expect(Self.dump(content.payload(target: pushover, device: "reef-1", credential: "atoken", click: nil)) == """
            POST https://api.pushover.net/1/messages.json
            Content-Type: application/x-www-form-urlencoded

            token=atoken&user=ukey&title=reef-1%3A%20test%20message&message=Sent%20by%20%60edge-agent%20notify%20test%60%20at%2014%3A02%3A05%20UTC%3A%20alerts%20from%20reef-1%20reach%20you%20here.&priority=-1&timestamp=1796306525
            """)
    }
}
