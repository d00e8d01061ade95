@testable import AlertEngine
import EdgeCore
import EdgeTesting
import Foundation
import Notify
import NotifyDelivery
import Readings
import Testing
import Wire
@testable import edge_agent

/// `edge-agent notify status|requeue` run as the real binary over a database seeded the way
/// the daemon leaves it: alert events in `alert_events`, delivery state in the notify tables.
@Suite struct NotifyCLITests {
    let directory: TemporaryDirectory
    var data: String { directory.file("data") }
    let config: String
    /// An hour ago, in whole seconds: event times the CLI's real clock measures ages from.
    let hourAgo: Int64

    init() throws {
        directory = try TemporaryDirectory("notify-cli")
        config = directory.file("agent.yaml")
        try """
        data_dir: \(directory.file("data"))
        notify:
          - id: phone
            kind: ntfy
            url: https://ntfy.sh/my-reef
          - id: mail
            kind: email
            url: smtps://mail.example.org:465
            recipient: keeper@example.org
            sender: reef@example.org
        """.write(toFile: config, atomically: true, encoding: .utf8)
        hourAgo = (Int64(Date().timeIntervalSince1970) - 3_600) * 1_000
    }

    func agent(_ arguments: [String]) throws -> Command.Output {
        try AgentBinary.run(["notify"] + arguments, environment: ["EDGE_AGENT_CONFIG": config])
    }

    static func event(_ kind: AlertEventKind, at millis: Int64) -> WireAlertEvent {
        WireAlertEvent(sequence: 0, ruleID: "temp-high", sensorID: "tank_temp", kind: kind, severity: .critical, value: 29.1,
                       threshold: 28, timestampMillis: millis, activeSinceMillis: millis, message: "tank_temp 29.1 > 28", silenced: false)
    }

    /// Five events; phone got #1–#2, #3 was refused (400), then a 503 left #4–#5 pending.
    /// mail has never been started by the daemon.
    func seed() throws -> NotifyLedger {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let database = try LocalDatabase.open(path: data + "/edge-agent.sqlite")
        _ = try AlertStore(writer: database.writer)
        try database.writer.write { db in
            for (i, kind) in [AlertEventKind.fired, .resolved, .fired, .resolved, .fired].enumerated() {
                var record = AlertEventRecord(Self.event(kind, at: hourAgo + Int64(i) * 1_000))
                try record.insert(db)
            }
        }
        let ledger = try NotifyLedger(writer: database.writer)
        try ledger.register(target: "phone", startAfter: 0)
        try ledger.recordDelivery(target: "phone", range: SequenceRange(first: 1, last: 2), events: 2, nowMillis: hourAgo + 2_000)
        try ledger.recordDeadLetter(target: "phone", range: SequenceRange(first: 3, last: 3), status: 400,
                                    reason: "invalid topic", nowMillis: hourAgo + 3_000, nextAttemptMillis: nil)
        try ledger.recordFailure(target: "phone", reason: "HTTP 503: Service Unavailable", nowMillis: hourAgo + 5_000,
                                 nextAttemptMillis: hourAgo + 65_000)
        return ledger
    }

    @Test func statusShowsEachTargetAndTextAndJSONAgree() throws {
        _ = try seed()
        let json = try agent(["status", "--json"])
        #expect(json.stderr == "")
        #expect(json.status == 0)
        let reports = try JSONDecoder().decode([NotifyTargetReport].self, from: Data(json.stdout.utf8))
        let age = try #require(reports.first?.oldestPendingAgeSeconds)
        #expect((3_596...3_610).contains(age), "event #4 is an hour old")
        #expect(reports == [
            NotifyTargetReport(target: "phone", kind: "ntfy", started: true, lastDeliveredMillis: hourAgo + 2_000, messagesSent: 1,
                               eventsSent: 2, retries: 1, pending: 2, oldestPendingAgeSeconds: age,
                               deadLetters: [.init(firstSequence: 3, lastSequence: 3, status: 400, reason: "invalid topic", atMillis: hourAgo + 3_000)],
                               requeued: 0, lastError: "HTTP 503: Service Unavailable", nextAttemptMillis: hourAgo + 65_000),
            NotifyTargetReport(target: "mail", kind: "email", started: false, messagesSent: 0, eventsSent: 0, retries: 0, pending: 0,
                               deadLetters: [], requeued: 0),
        ])

        let text = try agent(["status"])
        #expect(text.status == 0)
        // The second run is a moment later: its age is read back and must be JSON's or just after.
        let textAge = try #require(Self.age(in: text.stdout, between: "oldest ", and: " old"))
        #expect((age...age + 5).contains(textAge))
        #expect(text.stdout == """
        phone (ntfy)
          last delivered: \(TimeArgument.iso(hourAgo + 2_000))   sent 1 message (2 events), 1 retry
          pending:        2 events, oldest \(DurationText.format(.seconds(textAge))) old
          dead letters:   1 (edge-agent notify requeue phone sends them again)
            events #3: 400 invalid topic (\(TimeArgument.iso(hourAgo + 3_000)))
          last error:     HTTP 503: Service Unavailable
          next attempt:   \(TimeArgument.iso(hourAgo + 65_000))
        mail (email)
          not started: the daemon has not delivered to this target yet

        """)
    }

    @Test func requeueMarksTheDeadLettersAndStatusShowsThemWaiting() throws {
        let ledger = try seed()
        let run = try agent(["requeue", "phone"])
        #expect(run.stderr == "")
        #expect(run.status == 0)
        #expect(run.stdout == "re-queued 1 dead letter of phone; the daemon sends them again before new events\n")
        #expect(try ledger.requeuedLetters(target: "phone").map(\.range) == [SequenceRange(first: 3, last: 3)])
        #expect(try ledger.openDeadLetters(target: "phone") == [])

        let again = try agent(["requeue", "phone"])
        #expect(again.stdout == "re-queued 0 dead letters of phone\n")
        let notStarted = try agent(["requeue", "mail"])
        #expect(notStarted.stdout == "re-queued 0 dead letters of mail\n")

        let status = try JSONDecoder().decode([NotifyTargetReport].self, from: Data(try agent(["status", "--json"]).stdout.utf8))
        #expect(status.first?.deadLetters == [] && status.first?.requeued == 1)
        #expect(try agent(["status"]).stdout.contains("  dead letters:   0\n  re-queued:      1 letter waiting to be sent again\n"))
    }

    @Test func edgeAgentStatusCarriesEachTargetsCountsInJSONAndText() throws {
        _ = try seed()
        let json = try AgentBinary.run(["status", "--json"], environment: ["EDGE_AGENT_CONFIG": config])
        #expect(json.status == 2, "no daemon runs: unhealthy")
        let report = try JSONDecoder().decode(HealthReport.self, from: Data(json.stdout.utf8))
        let phone = try #require(report.notify?.first)
        let age = try #require(phone.oldestPendingAgeSeconds)
        #expect(report.notify == [NotifyTargetHealth(target: "phone", sent: 1, retried: 1, dead: 1, pending: 2, oldestPendingAgeSeconds: age)],
                "mail has no cursor yet: nothing to count")
        #expect(report.reasons.contains(
            "notify target 'phone': 1 message refused by the service; see `edge-agent notify status`, then `edge-agent notify requeue phone`"))

        let text = try AgentBinary.run(["status"], environment: ["EDGE_AGENT_CONFIG": config])
        let textAge = try #require(Self.age(in: text.stdout, between: "(oldest ", and: ")"))
        #expect((Int64(age)...Int64(age) + 5).contains(textAge))
        #expect(text.stdout.contains("""
            notify:    phone: sent 1, retried 1, pending 2 (oldest \(DurationText.format(.seconds(textAge))))   1 dead letter (edge-agent notify status)

            """), "\(text.stdout)")
    }

    /// The whole seconds of the first duration written between `start` and `end` in `text`.
    static func age(in text: String, between start: String, and end: String) -> Int64? {
        guard let from = text.range(of: start), let to = text[from.upperBound...].range(of: end) else { return nil }
        return DurationText.parse(String(text[from.upperBound..<to.lowerBound])).map { $0.components.seconds }
    }

    @Test func anUnknownOrMalformedTargetIsRefusedWithTheConfiguredIDs() throws {
        _ = try seed()
        let unknown = try agent(["requeue", "pager"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "Error: no notify target 'pager' in \(config); configured: phone, mail\n")
        let malformed = try agent(["requeue", "My Phone"])
        #expect(malformed.status == 64)
        #expect(malformed.stderr.hasPrefix(
            "Error: 'My Phone' is not a target id: ids are lower-case letters, digits, '-' or '_' (see `edge-agent notify status`)\n"))
        let test = try agent(["test", "Phone"])
        #expect(test.status == 64)
        #expect(test.stderr.hasPrefix("Error: 'Phone' is not a target id"))
    }
}

/// `edge-agent notify test` through the real binary, libcurl and a real HTTPS receiver with
/// a certificate the test generates: the request the service saw, the answer printed.
@Suite struct NotifyTestCommandTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory("notify-test") }

    func configure(_ receiver: HTTPSReceiver, token: String) throws -> String {
        let tokenFile = directory.file("ntfy-token")
        try "\(token)\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let config = directory.file("agent.yaml")
        try """
        device_id: tank-7
        data_dir: \(directory.file("data"))
        notify:
          click: http://reef.local/alerts
          targets:
            - id: phone
              kind: ntfy
              url: \(receiver.url)/my-reef
              credential_file: \(tokenFile)
              ca_file: \(receiver.caFile)
            - id: hook
              kind: webhook
              url: \(receiver.url)/hook
              ca_file: \(receiver.caFile)
            - id: tg
              kind: telegram
              url: \(receiver.url)
              recipient: "42"
              credential_file: \(directory.file("missing-bot-token"))
              ca_file: \(receiver.caFile)
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    @Test func oneTargetGetsTheTestMessageAndTheAnswerIsPrinted() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { receiver.stop(); withExtendedLifetime(certificates) {} }
        let config = try configure(receiver, token: "tk_secret")
        try receiver.script([.init(status: 200, body: #"{"id":"abc","event":"message"}"#)])
        let run = try AgentBinary.run(["notify", "test", "phone"], environment: ["EDGE_AGENT_CONFIG": config])
        #expect(run.stderr == "")
        #expect(run.status == 0)
        #expect(run.stdout == #"phone (ntfy): accepted: {"id":"abc","event":"message"}"# + "\n")
        let requests = try receiver.requests()
        #expect(requests.count == 1)
        let request = try #require(requests.first)
        #expect(request.method == "POST" && request.path == "/my-reef")
        #expect(request.header("X-Title") == "tank-7: test message")
        #expect(request.header("Authorization") == "Bearer tk_secret")
        #expect(request.header("X-Click") == "http://reef.local/alerts")
        #expect(request.text.hasPrefix("Sent by `edge-agent notify test` at "))
        #expect(request.text.hasSuffix(" UTC: alerts from tank-7 reach you here."))
        #expect(!run.stdout.contains("tk_secret"))
    }

    @Test func everyTargetIsTriedAndARefusalExitsOne() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { receiver.stop(); withExtendedLifetime(certificates) {} }
        let config = try configure(receiver, token: "tk_secret")
        try receiver.script([.init(status: 200, body: "ok"), .init(status: 400, body: "unknown receiver 'hook'\n")])
        let run = try AgentBinary.run(["notify", "test"], environment: ["EDGE_AGENT_CONFIG": config])
        #expect(run.status == 1)
        #expect(run.stdout == """
            phone (ntfy): accepted: ok
            hook (webhook): HTTP 400: unknown receiver 'hook'
            tg (telegram): not sent: credential file \(directory.file("missing-bot-token")) does not exist; create it with the secret on one line, then `chmod 600 \(directory.file("missing-bot-token"))`

            """)
        #expect(try receiver.requests().map(\.path) == ["/my-reef", "/hook"])
        #expect(try receiver.requests().last?.header("Idempotency-Key")?.hasPrefix("reef-edge/hook/test/") == true)
    }
}
