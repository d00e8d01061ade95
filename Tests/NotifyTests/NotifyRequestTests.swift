import Notify
import NotifyDelivery
import Testing
import Wire

/// Each HTTP kind's exact request for the heater group (see `Heater`).
@Suite struct NotifyRequestTests {
    @Test func ntfyPostsTheTextWithItsHeadersAndTheBearerToken() {
        let target = NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef")
        let request = NotifyRequest.build(target: target, device: "reef-1",
                                          content: .events([Heater.fired], range: SequenceRange(first: 41, last: 41)), credential: "tk_abc",
                                          click: "https://reef-1.local/alerts")
        #expect(request.method == "POST" && request.url == "https://ntfy.example.org/reef")
        #expect(request.headers.map(\.description) == [
            "X-Title: reef-1: temp-high fired", "X-Priority: 5", "X-Tags: rotating_light,critical,fired",
            "X-Click: https://reef-1.local/alerts", "Content-Type: text/plain; charset=utf-8", "Authorization: Bearer tk_abc",
        ])
        #expect(String(decoding: request.body, as: UTF8.self) == "Temperature 27.9 °C above 27.5 °C")
    }

    @Test func theWebhookPostsAlertmanagerJSONWithTheIdempotencyKey() {
        let target = NotifyTarget(id: "hook", kind: .webhook, url: "https://alerts.example.org/api/webhooks/prometheus")
        let events = [Heater.fired, Heater.float, Heater.resolved]
        let request = NotifyRequest.build(target: target, device: "reef-1",
                                          content: .events(events, range: SequenceRange(first: 41, last: 43)), credential: nil, click: "https://reef-1.local")
        #expect(request.headers.map(\.description) == ["Content-Type: application/json", "Idempotency-Key: reef-edge/hook/41-43"])
        #expect(request.body == Array(AlertmanagerPayload(target: "hook", device: "reef-1", events: events,
                                                          externalURL: "https://reef-1.local").json()))
    }

    @Test func telegramCarriesTheTokenInThePathAndNeverInTheLoggedURL() {
        let target = NotifyTarget(id: "tg", kind: .telegram, url: "https://api.telegram.org/", credentialFile: "/etc/reef/bot",
                                  recipient: "-100123")
        let request = NotifyRequest.build(target: target, device: "reef-1",
                                          content: .events([Heater.resolved], range: SequenceRange(first: 43, last: 43)), credential: "123:ABC")
        #expect(request.url == "https://api.telegram.org/bot123:ABC/sendMessage")
        #expect(request.redactedURL == "https://api.telegram.org/bot<redacted>/sendMessage")
        #expect(request.headers.map(\.description) == ["Content-Type: application/json"])
        #expect(String(decoding: request.body, as: UTF8.self)
            == #"{"chat_id":"-100123","disable_notification":true,"text":"reef-1: temp-high resolved\n\nTemperature back to 26.8 °C"}"#)
    }

    @Test func pushoverPostsAFormWithItsPriority() {
        let target = NotifyTarget(id: "po", kind: .pushover, url: "https://api.pushover.net/1/messages.json",
                                  credentialFile: "/etc/reef/pushover", recipient: "ukey")
        let request = NotifyRequest.build(target: target, device: "reef-1",
                                          content: .events([Heater.fired], range: SequenceRange(first: 41, last: 41)), credential: "atoken")
        #expect(request.headers.map(\.description) == ["Content-Type: application/x-www-form-urlencoded"])
        #expect(String(decoding: request.body, as: UTF8.self)
            == "token=atoken&user=ukey&title=reef-1%3A%20temp-high%20fired&message=Temperature%2027.9%20%C2%B0C%20above%2027.5%20%C2%B0C&priority=1&timestamp=1796306525")
    }
}
