import EdgeCore
import EdgeTesting
import Foundation
import Notify
import NotifyDelivery
import Profiles
import Testing
import Wire
@testable import edge_agent

/// agent.yaml's `notify:` section: the three-line ntfy target, every key, and each broken
/// target named by file, line, column and key while the rest of the agent keeps running.
@Suite struct NotifyConfigTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory("notify-config") }

    func load(_ text: String) throws -> AgentConfig {
        let path = directory.file("agent.yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try AgentConfig.load(path: path, environment: [:])
    }

    @Test func threeLinesAreEnoughForNtfy() throws {
        let config = try load("""
        notify:
          - kind: ntfy
            url: https://ntfy.sh/my-reef
        """)
        #expect(config.notify.targets == [NotifyTarget(id: "ntfy", kind: .ntfy, url: "https://ntfy.sh/my-reef")])
        #expect(config.notify.click == nil)
        #expect(config.notify.problems == [])
    }

    @Test func noSectionMeansNoTargets() throws {
        #expect(try load("log_level: info\n").notify == AgentConfig.Notify())
        #expect(try load("notify:\n").notify == AgentConfig.Notify())
    }

    @Test func everyKeyIsRead() throws {
        let config = try load("""
        notify:
          click: http://reef.local/alerts
          targets:
            - id: phone
              kind: ntfy
              url: https://ntfy.example/reef
              credential_file: /etc/edge-agent/ntfy-token
              ca_file: /etc/edge-agent/ntfy-ca.pem
              min_severity: critical
              kinds: [fired, fail_safe, stale]
              rules: [temp-high, leak]
              sensors: [temp]
              grouping_window: 0s
              repeat: 30m
              max_age: 1d
              rate_cap: 5/10m
            - id: mail
              kind: email
              url: smtp://mail.example.org:587
              credential_file: /etc/edge-agent/smtp-password
              recipient: keeper@example.org
              sender: reef@example.org
        """)
        #expect(config.notify.problems == [])
        #expect(config.notify.click == "http://reef.local/alerts")
        let phone = NotifyTarget(
            id: "phone", kind: .ntfy, url: "https://ntfy.example/reef", credentialFile: "/etc/edge-agent/ntfy-token",
            caFile: "/etc/edge-agent/ntfy-ca.pem",
            filter: .init(minimumSeverity: .critical, kinds: [.fired, .failSafe], rules: ["temp-high", "leak"], sensors: ["temp"],
                          stale: true),
            groupingWindow: .zero, repeatInterval: .seconds(1800), maxAge: .seconds(86_400),
            rateCap: .init(messages: 5, per: .seconds(600)))
        let mail = NotifyTarget(id: "mail", kind: .email, url: "smtp://mail.example.org:587", credentialFile: "/etc/edge-agent/smtp-password",
                                recipient: "keeper@example.org", sender: "reef@example.org")
        #expect(config.notify.targets == [phone, mail])
    }

    @Test func kindsWithoutStaleLeaveSilentSensorsOut() throws {
        let config = try load("""
        notify:
          - kind: ntfy
            url: https://ntfy.sh/my-reef
            kinds: [fired, resolved]
        """)
        let filter = try #require(config.notify.targets.first).filter
        #expect(filter.kinds == [.fired, .resolved])
        #expect(filter.stale == false)
    }

    @Test func eachBrokenTargetIsNamedByLineAndKeyAndTheOthersStay() throws {
        let config = try load("""
        log_level: debug
        notify:
          - id: phone
            kind: ntfy
            url: https://ntfy.sh/my-reef
          - id: phone
            kind: ntfy
            url: https://ntfy.sh/other
          - kind: pager
            url: https://pager.example
          - id: hook
            kind: webhook
            url: http://hooks.example/reef
          - id: tg
            kind: telegram
            urll: https://api.telegram.org
          - id: po
            kind: pushover
            url: https://api.pushover.net/1/messages.json
            rate_cap: 20 per hour
            repeat: 10s
            kinds: [fired, stail]
            min_severity: loud
        """)
        let file = directory.file("agent.yaml")
        #expect(config.logLevel == "debug", "the rest of agent.yaml still applies")
        #expect(config.notify.targets.map(\.id) == ["phone"])
        #expect(config.notify.problems == [
            "\(file):6:5: notify[1].id: duplicate target id 'phone'; give each target its own id",
            "\(file):9:11: notify[2].kind: 'pager' is not a kind; use ntfy, webhook, telegram, pushover, email",
            "\(file):11:5: notify[3]: notify target 'hook': webhook needs an https:// url, not http://; alerts are never sent in plain text",
            "\(file):14:5: notify[4].url: required key is missing",
            "\(file):16:5: notify[4].urll: unknown key (did you mean 'url'?); allowed here: id, kind, url, credential_file, recipient, sender, ca_file, min_severity, kinds, rules, sensors, grouping_window, repeat, max_age, rate_cap",
            "\(file):20:15: notify[5].rate_cap: '20 per hour' is not a rate cap; write messages/period, e.g. 20/1h",
            "\(file):21:13: notify[5].repeat: '10s' is out of range; allowed: 1m...7d",
            "\(file):22:20: notify[5].kinds: 'stail' is not an event kind (did you mean 'stale'?); use fired, resolved, flapping, fail_safe, actuated, stale",
            "\(file):23:19: notify[5].min_severity: 'loud' is not a severity; use info, warning or critical",
        ])
    }

    @Test func targetsAndFilterListsAreBounded() throws {
        let seventeen = (1...17).map { "  - { id: t\($0), kind: ntfy, url: https://ntfy.sh/t\($0) }" }.joined(separator: "\n")
        let many = try load("notify:\n" + seventeen + "\n")
        #expect(many.notify.targets == [])
        #expect(many.notify.problems == ["\(directory.file("agent.yaml")):2:3: notify: 17 targets; at most 16 are allowed"])
        let rules = (1...257).map { "r\($0)" }.joined(separator: ", ")
        let long = try load("notify:\n  - { kind: ntfy, url: https://ntfy.sh/x, rules: [\(rules)] }\n")
        #expect(long.notify.targets == [])
        #expect(long.notify.problems == ["\(directory.file("agent.yaml")):2:50: notify[0].rules: 257 entries; at most 256 are allowed"])
    }

    @Test func rateCapsAreMessagesPerPeriod() {
        #expect(YAMLReader.rateCap("20/1h") == .success(NotifyTarget.RateCap(messages: 20, per: .seconds(3600))))
        #expect(YAMLReader.rateCap("0/1h") == .failure(QuantityError("rate cap '0/1h': '0' is not a whole number in 1...1000")))
        #expect(YAMLReader.rateCap("20/10s") == .failure(QuantityError("rate cap '20/10s': '10s' is out of range; allowed: 1m...1d")))
        #expect(YAMLReader.rateCap("20") == .failure(QuantityError("'20' is not a rate cap; write messages/period, e.g. 20/1h")))
    }

    @Test func aClickURLMustBeHTTP() throws {
        let config = try load("""
        notify:
          click: reef.local
          targets: []
        """)
        #expect(config.notify.problems == [
            "\(directory.file("agent.yaml")):2:10: notify.click: 'reef.local' is not an http(s) URL; write e.g. https://reef.local/alerts",
        ])
    }

    @Test func theStaleKindIsResolvedAgainstTheProfilesStaleRules() throws {
        let config = try load("""
        notify:
          - kind: ntfy
            url: https://ntfy.sh/my-reef
            kinds: [stale]
        """)
        let profile = try DeviceProfile.load(path: AgentBinary.repository.appendingPathComponent("device-profiles/reef-sim.yaml").path)
        let target = try #require(config.notify.targets(for: profile).first)
        #expect(target.filter.staleRules == ["temp_probe_stale"])
        func event(_ rule: String) -> WireAlertEvent {
            WireAlertEvent(sequence: 1, ruleID: rule, sensorID: "tank_temp", kind: .fired, severity: .critical, value: nil,
                           threshold: nil, timestampMillis: 0, activeSinceMillis: nil, message: "m", silenced: false)
        }
        #expect(target.filter.admits(event("temp_probe_stale")))
        #expect(!target.filter.admits(event("ato_high")))
    }
}
