import EdgeTesting
import FleetServer
import FleetServerTesting
import Foundation
import Logging
import NotifyDelivery
import PostgresNIO
import Synchronization
import Testing
import Wire

/// The fleet server's notifications against a real PostgreSQL and real HTTPS and SMTP
/// receivers: the outbox written in the batch's transaction, grouping, offline detection and
/// the notify handler. Jobs are recorded as the queue would insert them and handed to the
/// handler as a worker would claim them.
@Suite(.serialized) struct NotificationTests {
    static let logger = Logger(label: "notification-tests")

    /// One database with the schema, device `reef-1`, its store, flusher, detector and queue.
    final class Fleet: Sendable {
        let client: PostgresClient
        let settings: NotificationSettings
        /// The database's URL, for the command line.
        let url: String
        /// Every job the flusher made, in order.
        let flushed = Mutex<[NotifyJobArgs]>([])

        init(client: PostgresClient, settings: NotificationSettings, url: String) {
            self.client = client
            self.url = url
            self.settings = settings
        }

        var store: PostgresFleetStore { PostgresFleetStore(client: client, logger: logger, notifications: settings) }
        var flusher: NotificationFlusher { NotificationFlusher(settings: settings, logger: logger) }
        var detector: DeviceOfflineDetector { DeviceOfflineDetector(settings: settings, logger: logger) }
        var queue: JobQueue { JobQueue(client: client, logger: logger) }
        var jobs: [NotifyJobArgs] { flushed.withLock { $0 } }

        func send(_ events: [WireAlertEvent], device name: String = "reef-1", store storeID: String = "store-a") async throws -> SyncAck {
            let device = try #require(try await store.device(named: name))
            let range = SequenceRange(first: events.first!.sequence, last: events.last!.sequence)
            let batch = SyncBatch(deviceID: device.name, storeID: storeID, events: EventBlock(range: range, events: events))
            return try await store.store(batch, from: device, statementTimeout: .seconds(30), healthReportsKept: 10, starting: {})
        }

        /// Flushes at `offset` past the database's now; returns the new jobs' arguments.
        @discardableResult
        func flush(after offset: Duration) async throws -> [NotifyJobArgs] {
            let made = try await client.withTransaction(logger: logger) { connection in
                try await flusher.flush(on: connection, nowMillis: try await Self.now(connection) + offset.saturatingMillis)
            }
            flushed.withLock { $0 += made }
            return made
        }

        @discardableResult
        func detect(after offset: Duration) async throws -> [String] {
            try await client.withTransaction(logger: logger) { connection in
                try await detector.detect(on: connection, nowMillis: try await Self.now(connection) + offset.saturatingMillis)
            }
        }

        static func now(_ connection: PostgresConnection) async throws -> Int64 {
            let rows = try await connection.query("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8", logger: logger)
            // Read to the end: a half-read sequence keeps the connection busy for the next statement.
            var now: Int64 = 0
            for try await value in rows.decode(Int64.self) { now = value }
            return now
        }

        func handler(_ transport: any NotifyTransport) -> NotifyJobHandler {
            NotifyJobHandler(settings: settings, transport: transport, ledger: NotificationLedger(client: client, logger: logger), logger: logger)
        }

        /// Runs one job's attempt with the handler alone, as a worker holding it would.
        func perform(_ args: NotifyJobArgs, attempt: Int = 1, transport: any NotifyTransport = CurlNotifyTransport()) async -> JobResult {
            await handler(transport).perform(ClaimedJob(id: 1, kind: args.newJob.kind, receiver: args.receiver, args: args.json,
                                                        attempt: attempt, maxAttempts: 10, idempotencyKey: args.uniqueKey))
        }

        /// Claims every due job and works it through the queue, as the worker pool does.
        @discardableResult
        func work(transport: any NotifyTransport = CurlNotifyTransport()) async throws -> [JobResult] {
            var results: [JobResult] = []
            for job in try await queue.claim(100, owner: "test", lease: .seconds(60)) {
                let result = await handler(transport).perform(job)
                try await queue.finish(job, owner: "test", result: result, latency: .milliseconds(1), policy: WorkerSettings().retryPolicy)
                results.append(result)
            }
            return results
        }

        func count(_ sql: String) async throws -> Int {
            var count = -1
            for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int64.self) { count = Int(value) }
            return count
        }
    }

    static func withFleet(_ settings: NotificationSettings, _ body: (Fleet) async throws -> Void) async throws {
        let cluster = try await PostgresCluster.start()
        let client = PostgresClient(configuration: cluster.clientConfiguration, backgroundLogger: logger)
        let running = Task { await client.run() }
        do {
            try await Schema.migrate(client, logger: logger)
            let fleet = Fleet(client: client, settings: settings, url: cluster.url)
            _ = try await fleet.store.addDevice(name: "reef-1")
            try await body(fleet)
        } catch {
            running.cancel()
            await cluster.destroy()
            throw error
        }
        running.cancel()
        await cluster.destroy()
    }

    static func event(_ sequence: Int64, _ kind: AlertEventKind = .fired, rule: String = "temp-high", severity: AlertSeverity = .critical,
                      silenced: Bool = false, at millis: Int64 = 1_796_306_400_000) -> WireAlertEvent {
        WireAlertEvent(sequence: sequence, ruleID: rule, sensorID: "tank", kind: kind, severity: severity, value: 28.5, threshold: 28,
                       timestampMillis: millis + sequence * 1000, activeSinceMillis: millis, message: "\(rule) #\(sequence)",
                       silenced: silenced)
    }

    static func hook(_ url: String = "https://127.0.0.1:1/hook", caFile: String? = nil) -> NotificationReceiver {
        NotificationReceiver(id: "hook", kind: .webhook, url: url, caFile: caFile)
    }

    static func settings(_ receivers: [NotificationReceiver] = [hook()], route: NotificationRoute? = nil) -> NotificationSettings {
        NotificationSettings(receivers: receivers,
                             routes: [route ?? NotificationRoute(id: "tanks", receivers: receivers.map(\.id), groupWaitSeconds: 30)])
    }

    @Test func aBatchSentThreeTimesEnqueuesOnce() async throws {
        try await Self.withFleet(Self.settings()) { fleet in
            for _ in 1...3 { _ = try await fleet.send([Self.event(1)]) }
            #expect(try await fleet.count("SELECT count(*) FROM notify_outbox") == 1)
            let jobs = try await fleet.flush(after: .seconds(31))
            #expect(jobs.map(\.notices.count) == [1])
            #expect(jobs.first?.uniqueKey == "notify/1/hook/1")
            _ = try await fleet.send([Self.event(1)])
            #expect(try await fleet.work(transport: Accepting()) == [.completed])
            #expect(try await fleet.flush(after: .seconds(3600)) == [])
            #expect(try await fleet.count("SELECT count(*) FROM jobs") == 1)
        }
    }

    @Test func twentyAlertsWithinGroupWaitAreOneNotificationListingAll() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { receiver.stop() }
        let phone = NotificationReceiver(id: "phone", kind: .ntfy, url: receiver.url + "/reef", caFile: receiver.caFile)
        try await Self.withFleet(Self.settings([phone])) { fleet in
            let events = (1...20).map { Self.event(Int64($0), rule: "rule-\($0)") }
            for chunk in stride(from: 0, to: 20, by: 5) { _ = try await fleet.send(Array(events[chunk..<chunk + 5])) }
            #expect(try await fleet.flush(after: .seconds(10)) == [], "group_wait has not passed")
            let jobs = try await fleet.flush(after: .seconds(31))
            #expect(jobs.count == 1)
            #expect(try await fleet.work() == [.completed])
            let request = try #require(try receiver.requests().first)
            #expect(try receiver.requests().count == 1)
            #expect(request.path == "/reef")
            #expect(request.header("X-Title") == "reef-1: 20 alerts (20 fired)")
            let lines = (1...20).map { n in
                let seconds = 1_796_306_400 + n
                let clock = String(format: "%02d:%02d:%02d", (seconds / 3600) % 24, (seconds / 60) % 60, seconds % 60)
                return "\(clock) rule-\(n) fired: rule-\(n) #\(n)"
            }
            #expect(request.text == lines.joined(separator: "\n"))
            #expect(try await fleet.flush(after: .seconds(400)) == [], "nothing new, nothing repeated before repeat_interval")
        }
    }

    @Test func aResolutionFollowsAfterGroupIntervalWithTheSameFingerprint() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { receiver.stop() }
        let settings = Self.settings([Self.hook(receiver.url + "/hook", caFile: receiver.caFile)],
                                     route: NotificationRoute(id: "tanks", receivers: ["hook"], groupWaitSeconds: 30, groupIntervalSeconds: 300))
        try await Self.withFleet(settings) { fleet in
            _ = try await fleet.send([Self.event(1)])
            let first = try await fleet.flush(after: .seconds(31))
            _ = try await fleet.send([Self.event(2, .resolved)])
            #expect(try await fleet.flush(after: .seconds(200)) == [], "the first message's job is not over yet")
            #expect(try await fleet.work() == [.completed])
            #expect(try await fleet.flush(after: .seconds(200)) == [], "group_interval has not passed since the first message")
            let second = try await fleet.flush(after: .seconds(331))
            #expect(first.map(\.flush) == [1] && second.map(\.flush) == [2])
            #expect(try await fleet.work() == [.completed])
            let requests = try receiver.requests()
            #expect(requests.count == 2)
            let bodies = try requests.map { try JSONDecoder().decode(AlertmanagerPayload.self, from: Data($0.body)) }
            #expect(bodies.map(\.status) == ["firing", "resolved"])
            #expect(bodies[0].alerts[0].fingerprint == bodies[1].alerts[0].fingerprint)
            #expect(bodies.map(\.groupKey) == [#"{}/{route="tanks"}:{device="reef-1"}"#, #"{}/{route="tanks"}:{device="reef-1"}"#])
            #expect(bodies[1].groupLabels == ["device": "reef-1"] && bodies[1].receiver == "hook")
            #expect(requests.map { $0.header("Idempotency-Key") } == ["notify/1/hook/1", "notify/1/hook/2"])
            // All resolved: the group starts over and repeats nothing.
            #expect(try await fleet.flush(after: .seconds(5 * 3600)) == [])
        }
    }

    @Test func aRouteWithoutSendResolvedHearsNoResolution() async throws {
        let route = NotificationRoute(id: "quiet", receivers: ["hook"], groupWaitSeconds: 0, sendResolved: false)
        try await Self.withFleet(Self.settings(route: route)) { fleet in
            _ = try await fleet.send([Self.event(1), Self.event(2, .resolved)])
            let jobs = try await fleet.flush(after: .seconds(1))
            #expect(jobs.map { $0.notices.map(\.event.kind) } == [[.fired]])
        }
    }

    @Test func aReceiversRefusalMakesTheJobDeadWithItsReasonAndA503IsRetriedAfterItsRetryAfter() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { receiver.stop() }
        try receiver.script([.init(status: 400, body: "unknown receiver 'hook'"),
                             .init(status: 503, headers: ["Retry-After": "7"], body: "busy")])
        try await Self.withFleet(Self.settings([Self.hook(receiver.url + "/hook", caFile: receiver.caFile)])) { fleet in
            _ = try await fleet.send([Self.event(1)])
            try await fleet.flush(after: .seconds(31))
            let job = try #require(fleet.jobs.first)
            #expect(await fleet.perform(job) == .dead(error: "HTTP 400: unknown receiver 'hook'"))
            #expect(await fleet.perform(job, attempt: 2) == .retry(error: "HTTP 503: busy", notBeforeSeconds: 7))
            let rows = try await fleet.client.query("SELECT last_error FROM notify_receivers WHERE receiver = 'hook'")
            var errors: [String?] = []
            for try await error in rows.decode(String?.self) { errors.append(error) }
            #expect(errors == ["HTTP 503: busy"])
        }
    }

    @Test func silencedEventsAndMaintenanceEnqueueNothing() async throws {
        try await Self.withFleet(Self.settings()) { fleet in
            _ = try await fleet.send([
                Self.event(1, silenced: true),
                Self.event(2, .maintenanceStarted, rule: "*"),
                Self.event(3),
                Self.event(4, .maintenanceEnded, rule: "*"),
                Self.event(5, rule: "after"),
            ])
            let jobs = try await fleet.flush(after: .seconds(31))
            #expect(jobs.map { $0.notices.map(\.event.sequence) } == [[5]])
            _ = try await fleet.send([Self.event(6, .maintenanceStarted, rule: "*")])
            #expect(try await fleet.detect(after: .seconds(3600)) == [], "a device in maintenance is never offline")
        }
    }

    @Test func anOfflineDeviceIsNoticedOnceAndComesBackOnce() async throws {
        try await Self.withFleet(Self.settings(route: NotificationRoute(id: "tanks", receivers: ["hook"], groupWaitSeconds: 0))) { fleet in
            _ = try await fleet.send([Self.event(1, .resolved, severity: .info)])
            #expect(try await fleet.detect(after: .seconds(299)) == [])
            #expect(try await fleet.detect(after: .seconds(301)) == ["reef-1"])
            #expect(try await fleet.detect(after: .seconds(900)) == [], "one notice per episode")
            let offline = try await fleet.flush(after: .seconds(302))
            #expect(offline.map { $0.notices.map { "\($0.device) \($0.event.ruleID) \($0.event.kind)" } } == [["reef-1 device_offline fired"]])
            #expect(offline.first?.priority == 0)
            _ = try await fleet.send([Self.event(2, .resolved, severity: .info)])
            _ = try await fleet.send([Self.event(3, .resolved, severity: .info)])
            #expect(try await fleet.work(transport: Accepting()) == [.completed])
            let back = try await fleet.flush(after: .seconds(3600))
            #expect(back.map { $0.notices.map { "\($0.device) \($0.event.ruleID) \($0.event.kind)" } } == [["reef-1 device_offline resolved"]])
            #expect(try await fleet.detect(after: .seconds(10)) == [])
        }
    }

    @Test func aDevicesOwnThresholdAndItsSyncIntervalDecide() async throws {
        try await Self.withFleet(Self.settings()) { fleet in
            _ = try await fleet.send([Self.event(1)])
            try await DeviceNotificationSettings.setOfflineThreshold(1200, device: "reef-1", client: fleet.client, logger: Self.logger)
            #expect(try await fleet.detect(after: .seconds(600)) == [])
            #expect(try await fleet.detect(after: .seconds(1201)) == ["reef-1"])
            await #expect(throws: DeviceNotificationSettings.Refusal.self) {
                try await DeviceNotificationSettings.setOfflineThreshold(0, device: "reef-1", client: fleet.client, logger: Self.logger)
            }
        }
    }

    @Test func routesMatchLabelGlobsAndGroupBySite() async throws {
        let route = NotificationRoute(id: "garage", labels: ["site": "garage*"], receivers: ["hook"], groupBy: "site", groupWaitSeconds: 0)
        try await Self.withFleet(Self.settings(route: route)) { fleet in
            for name in ["reef-2", "reef-3"] { _ = try await fleet.store.addDevice(name: name) }
            let client = fleet.client
            try await DeviceNotificationSettings.setLabels(["site": "garage-1"], device: "reef-1", client: client, logger: Self.logger)
            try await DeviceNotificationSettings.setLabels(["site": "garage-1"], device: "reef-2", client: client, logger: Self.logger)
            try await DeviceNotificationSettings.setLabels(["site": "house"], device: "reef-3", client: client, logger: Self.logger)
            for name in ["reef-1", "reef-2", "reef-3"] { _ = try await fleet.send([Self.event(1)], device: name) }
            let jobs = try await fleet.flush(after: .seconds(1))
            #expect(jobs.count == 1)
            #expect(jobs.first?.notices.map(\.device) == ["reef-1", "reef-2"])
            #expect(jobs.first?.groupKey == #"{}/{route="garage"}:{site="garage-1"}"#)
            #expect(jobs.first?.message.text.title == "site=garage-1: 2 alerts (2 fired)")
        }
    }

    @Test func eachReceiverKindGetsItsRequest() async throws {
        let certificates = try await TestCertificates.generate()
        let http = try await HTTPSReceiver.start(certificates: certificates)
        let smtp = try await SMTPReceiver.start(certificates: certificates, user: "reef@example.net", password: "smtp-secret")
        defer { http.stop(); smtp.stop() }
        let directory = try TemporaryDirectory()
        func secret(_ name: String, _ value: String) throws -> String {
            let path = directory.path + "/" + name
            try value.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            return path
        }
        let receivers = [
            NotificationReceiver(id: "phone", kind: .ntfy, url: http.url + "/reef", credentialFile: try secret("ntfy", "tk_1\n"), caFile: http.caFile),
            NotificationReceiver(id: "hook", kind: .webhook, url: http.url + "/hook", caFile: http.caFile),
            NotificationReceiver(id: "tg", kind: .telegram, url: http.url, credentialFile: try secret("tg", "123:ABC"), recipient: "-100",
                                 caFile: http.caFile),
            NotificationReceiver(id: "po", kind: .pushover, url: http.url + "/1/messages.json", credentialFile: try secret("po", "apptoken"),
                                 recipient: "userkey", caFile: http.caFile),
            NotificationReceiver(id: "mail", kind: .email, url: smtp.url, credentialFile: try secret("mail", "smtp-secret"),
                                 recipient: "keeper@example.net", sender: "reef@example.net", caFile: smtp.caFile),
        ]
        try await Self.withFleet(Self.settings(receivers)) { fleet in
            #expect(fleet.settings.validationErrors() == [])
            _ = try await fleet.send([Self.event(1)])
            let jobs = try await fleet.flush(after: .seconds(31))
            #expect(jobs.map(\.receiver) == ["phone", "hook", "tg", "po", "mail"])
            for job in jobs { #expect(await fleet.perform(job) == .completed, "\(job.receiver)") }
            let requests = try http.requests()
            #expect(requests.map(\.path) == ["/reef", "/hook", "/bot123:ABC/sendMessage", "/1/messages.json"])
            #expect(requests[0].header("Authorization") == "Bearer tk_1" && requests[0].header("X-Title") == "reef-1: temp-high fired")
            #expect(requests[0].text == "temp-high #1")
            #expect(requests[1].header("Idempotency-Key") == "notify/2/hook/1")
            #expect(requests[2].text == #"{"chat_id":"-100","disable_notification":false,"text":"reef-1: temp-high fired\n\ntemp-high #1"}"#)
            #expect(requests[3].text.hasPrefix("token=apptoken&user=userkey&title=reef-1%3A%20temp-high%20fired&message=temp-high%20%231&priority=1"))
            let mail = try #require(try smtp.messages().first)
            #expect(mail.mailFrom == "reef@example.net" && mail.recipients == ["keeper@example.net"] && mail.tls)
            #expect(mail.login == "reef@example.net")
            #expect(mail.header("Subject") == "reef-1: temp-high fired")
            #expect(mail.header("Message-ID") == "<notify.5.mail.1@reef-fleet>")
            #expect(mail.body == "temp-high #1")
            // The secrets are in no job.
            #expect(try await fleet.count("SELECT count(*) FROM jobs WHERE args::text ~ '(tk_1|123:ABC|apptoken|smtp-secret)'") == 0)
            #expect(try await fleet.count("SELECT count(*) FROM jobs") == 5)
        }
    }
}

extension NotificationTests {
    /// `fleet-server devices label` and `devices offline-after`, the real binary against the database.
    @Test func theCommandLineSetsLabelsAndThresholds() async throws {
        try await Self.withFleet(Self.settings()) { fleet in
            let binary = Built.product("fleet-server").path
            let url = fleet.url
            #expect(try await Processes.run(binary, ["devices", "label", "reef-1", "site=garage", "room=cellar", "--postgres-url", url])
                == "reef-1: room=cellar site=garage\n")
            #expect(try await Processes.run(binary, ["devices", "offline-after", "reef-1", "600", "--postgres-url", url])
                == "reef-1: offline after 600 s of silence\n")
            let refused = await #expect(throws: Processes.Failure.self) {
                try await Processes.run(binary, ["devices", "label", "nobody", "site=x", "--postgres-url", url])
            }
            #expect(refused?.output.contains("no device named \"nobody\"") == true)
            let rows = try await fleet.client.query("SELECT labels::text, offline_after_seconds FROM devices WHERE name = 'reef-1'")
            for try await (labels, seconds) in rows.decode((String, Int?).self) {
                #expect(labels == #"{"room": "cellar", "site": "garage"}"# && seconds == 600)
            }
            #expect(try await Processes.run(binary, ["devices", "offline-after", "reef-1", "default", "--postgres-url", url])
                == "reef-1: offline after the server's default\n")
        }
    }
}

/// A transport that accepts everything, for tests about what happens after a delivery.
struct Accepting: NotifyTransport {
    func send(_ payload: NotifyPayload, to target: NotifyTarget, credential: String?) async -> NotifyAnswer {
        NotifyAnswer(outcome: .accepted, text: "ok")
    }
}

/// The whole server: a device's batch over HTTPS, the server's own worker pool flushing and
/// delivering it, and the notification admin routes.
@Suite(.serialized) struct NotificationServerTests {
    @Test func aBatchOverHTTPSReachesTheReceiverThroughTheServersOwnWorkers() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        defer { receiver.stop() }
        let settings = NotificationSettings(
            receivers: [NotificationReceiver(id: "hook", kind: .webhook, url: receiver.url + "/hook", caFile: receiver.caFile)],
            routes: [NotificationRoute(id: "tanks", receivers: ["hook"], groupWaitSeconds: 0)])
        try await ServerHarness.with(configure: { $0.notifications = settings }) { server in
            let curl = Curl(caFile: server.certificates.ca)
            let admin = ["Authorization": "Bearer \(server.adminToken)"]
            let event = NotificationTests.event(1)
            let batch = SyncBatch(deviceID: "reef-1", storeID: "store-a",
                                  events: EventBlock(range: SequenceRange(first: 1, last: 1), events: [event]))
            for _ in 1...3 { #expect(try await curl.post(batch, to: server.url, token: server.deviceToken).status == 200) }
            let delivered = try await receiver.requests(atLeast: 1)
            #expect(delivered.map(\.path) == ["/hook"])
            let body = try JSONDecoder().decode(AlertmanagerPayload.self, from: Data(delivered[0].body))
            #expect(body.alerts.map { $0.labels["alertname"] } == ["temp-high"] && body.groupKey == #"{}/{route="tanks"}:{device="reef-1"}"#)

            // Receivers with their last delivery; the worker records it just after the answer.
            var status: [NotificationAdminAPI.ReceiverStatus] = []
            for _ in 0..<50 {
                status = try await curl.request("GET", server.url + "/v1/admin/receivers", headers: admin)
                    .decode([NotificationAdminAPI.ReceiverStatus].self)
                if status.first?.lastDeliveredMillis != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status.map(\.id) == ["hook"] && status[0].lastDeliveredMillis != nil && status[0].lastError == nil)
            #expect(try await curl.request("GET", server.url + "/v1/admin/receivers").status == 401)

            // Routes: the configuration's cannot be changed here; API routes come and go.
            let configured = try await curl.request("PUT", server.url + "/v1/admin/routes/tanks", headers: admin, body: Array(#"{"receivers":["hook"]}"#.utf8))
            #expect(configured.status == 409 && configured.wireError?.error == "configured_route")
            let bad = try await curl.request("PUT", server.url + "/v1/admin/routes/pager", headers: admin, body: Array(#"{"receivers":["pager"]}"#.utf8))
            #expect(bad.status == 422 && bad.wireError?.reason == #"route.receivers[0]: no receiver named "pager"; configured: hook"#)
            let put = try await curl.request("PUT", server.url + "/v1/admin/routes/offline", headers: admin,
                                             body: Array(#"{"receivers":["hook"],"kinds":["device_offline","device_back"],"groupBy":"site"}"#.utf8))
            #expect(put.status == 204)
            let routes = try await curl.request("GET", server.url + "/v1/admin/routes", headers: admin).decode([NotificationRouteStore.Entry].self)
            #expect(routes.map { "\($0.source.rawValue) \($0.route.id)" } == ["configuration tanks", "api offline"])
            #expect(routes.last?.route == NotificationRoute(id: "offline", kinds: ["device_offline", "device_back"], receivers: ["hook"], groupBy: "site"))
            #expect(try await curl.request("DELETE", server.url + "/v1/admin/routes/offline", headers: admin).status == 204)
            #expect(try await curl.request("DELETE", server.url + "/v1/admin/routes/offline", headers: admin).status == 404)

            // Device labels and threshold.
            #expect(try await curl.request("PUT", server.url + "/v1/admin/devices/reef-1/labels", headers: admin,
                                           body: Array(#"{"site":"garage"}"#.utf8)).status == 204)
            #expect(try await curl.request("PUT", server.url + "/v1/admin/devices/nobody/labels", headers: admin,
                                           body: Array(#"{"site":"garage"}"#.utf8)).status == 404)
            #expect(try await curl.request("PUT", server.url + "/v1/admin/devices/reef-1/offline-threshold", headers: admin,
                                           body: Array(#"{"seconds":0}"#.utf8)).status == 400)
            #expect(try await curl.request("PUT", server.url + "/v1/admin/devices/reef-1/offline-threshold", headers: admin,
                                           body: Array(#"{"seconds":900}"#.utf8)).status == 204)
            let rows = try await server.database.query("SELECT labels::text, offline_after_seconds FROM devices WHERE name = 'reef-1'")
            for try await (labels, seconds) in rows.decode((String, Int?).self) {
                #expect(labels == #"{"site": "garage"}"# && seconds == 900)
            }

            // A test message goes through the queue to the receiver.
            let test = try await curl.request("POST", server.url + "/v1/admin/receivers/hook/test", headers: admin)
            #expect(test.status == 202)
            #expect(try await curl.request("POST", server.url + "/v1/admin/receivers/pager/test", headers: admin).status == 404)
            let both = try await receiver.requests(atLeast: 2)
            let testBody = try JSONDecoder().decode(AlertmanagerPayload.self, from: Data(both[1].body))
            #expect(testBody.alerts.map { $0.labels["alertname"] } == ["reef-edge-test"] && testBody.receiver == "hook")
            #expect(try receiver.requests().count == 2, "the batch sent three times was delivered once")
        }
    }
}
