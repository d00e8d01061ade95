import Notify
import NotifyDelivery
import Testing
import Wire

@Suite struct NotifyTargetTests {
    @Test func aTargetGetsTheDocumentedDefaults() {
        let target = NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.sh/reef-alerts")
        #expect(target.validationError() == nil)
        #expect(target.groupingWindow == .seconds(30))
        #expect(target.repeatInterval == .seconds(7200))
        #expect(target.maxAge == .seconds(21600))
        #expect(target.rateCap == NotifyTarget.RateCap(messages: 20, per: .seconds(3600)))
        #expect(target.filter.minimumSeverity == .warning)
    }

    @Test func kindsAreSpelledAsInAgentYAML() {
        #expect(NotifyTarget.Kind.allCases.map(\.rawValue) == ["ntfy", "webhook", "telegram", "pushover", "email"])
    }

    @Test func plainTextTransportsAreRefusedWithWhatToWrite() {
        let http = NotifyTarget(id: "phone", kind: .ntfy, url: "http://ntfy.local/reef")
        #expect(http.validationError()
            == "notify target 'phone': ntfy needs an https:// url, not http://; alerts are never sent in plain text")
        let webhook = NotifyTarget(id: "hook", kind: .webhook, url: "ftp://example.org/hook")
        #expect(webhook.validationError()?.contains("webhook needs an https:// url") == true)
        let mail = NotifyTarget(id: "mail", kind: .email, url: "https://mail.example.org", recipient: "a@b.c", sender: "d@e.f")
        #expect(mail.validationError()
            == "notify target 'mail': email needs smtps://host:465 or smtp://host:587 (STARTTLS is then required), not https://")
        for url in ["smtps://mail.example.org:465", "smtp://mail.example.org:587"] {
            #expect(NotifyTarget(id: "mail", kind: .email, url: url, recipient: "a@b.c", sender: "d@e.f").validationError() == nil)
        }
    }

    @Test func eachKindAsksForWhatItNeeds() {
        let telegram = NotifyTarget(id: "tg", kind: .telegram, url: "https://api.telegram.org", credentialFile: "/etc/reef/bot")
        #expect(telegram.validationError() == "notify target 'tg': telegram needs recipient: the chat id the bot writes to")
        let pushover = NotifyTarget(id: "po", kind: .pushover, url: "https://api.pushover.net/1/messages.json", recipient: "ukey")
        #expect(pushover.validationError()
            == "notify target 'po': pushover needs credential_file: a 0600 file holding the application token")
        let mail = NotifyTarget(id: "mail", kind: .email, url: "smtps://mail.example.org", recipient: "keeper@example.org")
        #expect(mail.validationError() == "notify target 'mail': email needs both recipient (To) and sender (From) addresses")
    }

    @Test func emailAddressesAreBareAddresses() {
        func mail(to recipient: String, from sender: String = "reef@example.org") -> String? {
            NotifyTarget(id: "mail", kind: .email, url: "smtps://mail.example.org", recipient: recipient, sender: sender).validationError()
        }
        #expect(mail(to: "keeper@example.org") == nil)
        #expect(mail(to: "Keeper <keeper@example.org>")
            == "notify target 'mail': recipient 'Keeper <keeper@example.org>' is not a bare address like keeper@example.org (no display name, <>, spaces or non-ASCII); SMTP's MAIL FROM and RCPT TO take the address alone")
        #expect(mail(to: "keeper@example.org", from: "reef@example.org\r\nBcc: x@y.z")?.hasPrefix("notify target 'mail': sender ") == true)
        #expect(mail(to: "köper@example.org")?.contains("recipient 'köper@example.org' is not a bare address") == true)
        #expect(mail(to: "keeper.example.org")?.contains("is not a bare address") == true)
        #expect(mail(to: "a@b@c")?.contains("is not a bare address") == true)
    }

    @Test func idsAndDurationsAreChecked() {
        #expect(NotifyTarget(id: "My Phone", kind: .ntfy, url: "https://ntfy.sh/x").validationError()
            == "notify target 'My Phone': the id must be lower-case letters, digits, '-' or '_'; rename it")
        #expect(NotifyTarget(id: "p", kind: .ntfy, url: "ntfy.sh/x").validationError()
            == "notify target 'p': url 'ntfy.sh/x' is not an absolute URL with a host; write it as scheme://host/path")
        let short = NotifyTarget(id: "p", kind: .ntfy, url: "https://ntfy.sh/x", groupingWindow: .seconds(60), maxAge: .seconds(30))
        #expect(short.validationError()?.contains("max_age") == true)
        let capless = NotifyTarget(id: "p", kind: .ntfy, url: "https://ntfy.sh/x", rateCap: .init(messages: 0, per: .seconds(60)))
        #expect(capless.validationError() == "notify target 'p': the rate cap needs at least 1 message per a positive period")
    }

    @Test func theFilterAdmitsBySeverityKindRuleAndSensorAndNeverASilencedEvent() {
        func event(_ kind: AlertEventKind, _ severity: AlertSeverity, rule: String = "temp-high", sensor: String = "temp",
                   silenced: Bool = false) -> WireAlertEvent {
            WireAlertEvent(sequence: 1, ruleID: rule, sensorID: sensor, kind: kind, severity: severity, value: nil,
                           threshold: nil, timestampMillis: 0, activeSinceMillis: nil, message: "m", silenced: silenced)
        }
        let all = NotifyTarget.Filter()
        #expect(all.admits(event(.fired, .warning)))
        #expect(!all.admits(event(.fired, .info)))
        #expect(all.admits(event(.failSafe, .info)), "a fail-safe is always news")
        #expect(!all.admits(event(.fired, .critical, silenced: true)))
        #expect(!all.admits(event(.acknowledged, .critical)))
        let narrow = NotifyTarget.Filter(minimumSeverity: .info, kinds: [.fired], rules: ["leak"], sensors: [])
        #expect(narrow.admits(event(.fired, .info, rule: "leak")))
        #expect(!narrow.admits(event(.fired, .critical, rule: "temp-high")))
        #expect(!narrow.admits(event(.resolved, .critical, rule: "leak")))
        let bySensor = NotifyTarget.Filter(sensors: ["ato-float"])
        #expect(bySensor.admits(event(.fired, .warning, rule: "ato-stuck", sensor: "ato-float")))
        #expect(!bySensor.admits(event(.fired, .warning, rule: "temp-high", sensor: "temp")))
        #expect(bySensor.admits(event(.failSafe, .critical, rule: "*", sensor: "*")), "events for every rule pass rule and sensor filters")
    }

    @Test func staleRulesAreJudgedByTheStaleKindAlone() {
        func event(_ kind: AlertEventKind, rule: String) -> WireAlertEvent {
            WireAlertEvent(sequence: 1, ruleID: rule, sensorID: "temp", kind: kind, severity: .critical, value: nil,
                           threshold: nil, timestampMillis: 0, activeSinceMillis: nil, message: "m", silenced: false)
        }
        let onlyStale = NotifyTarget.Filter(kinds: [], stale: true, staleRules: ["temp-silent"])
        #expect(onlyStale.admits(event(.fired, rule: "temp-silent")))
        #expect(onlyStale.admits(event(.resolved, rule: "temp-silent")))
        #expect(!onlyStale.admits(event(.fired, rule: "temp-high")))
        #expect(!onlyStale.admits(event(.flapping, rule: "temp-silent")), "only fired and resolved are the stale kind")
        let noStale = NotifyTarget.Filter(kinds: [.fired, .resolved], stale: false, staleRules: ["temp-silent"])
        #expect(!noStale.admits(event(.fired, rule: "temp-silent")))
        #expect(noStale.admits(event(.fired, rule: "temp-high")))
        let unknownRules = NotifyTarget.Filter(kinds: [.fired], stale: false)
        #expect(unknownRules.admits(event(.fired, rule: "temp-silent")), "without staleRules every event is judged by kinds")
    }
}
