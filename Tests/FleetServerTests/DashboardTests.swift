@testable import FleetServer
import FleetServerTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Testing
import Wire

/// The dashboard's pure parts and its sign-in rules in-process (no PostgreSQL: none of these
/// requests reads the fleet).
struct DashboardTests {
    static let adminToken = "admin-token-for-tests-0123456789"

    @Test func deviceStatesFollowLastSeenAndHealth() {
        let now: Int64 = 1_000_000_000
        let five = Duration.seconds(300)
        #expect(DeviceState.of(lastSeenMillis: nil, health: .healthy, nowMillis: now, offlineAfter: five) == .neverSeen)
        #expect(DeviceState.of(lastSeenMillis: now - 300_000, health: .healthy, nowMillis: now, offlineAfter: five) == .offline)
        #expect(DeviceState.of(lastSeenMillis: now - 299_999, health: .healthy, nowMillis: now, offlineAfter: five) == .online)
        #expect(DeviceState.of(lastSeenMillis: now, health: .degraded, nowMillis: now, offlineAfter: five) == .degraded)
        #expect(DeviceState.of(lastSeenMillis: now, health: .unhealthy, nowMillis: now, offlineAfter: five) == .degraded)
        #expect(DeviceState.of(lastSeenMillis: now, health: nil, nowMillis: now, offlineAfter: five) == .online)
        #expect(timeAgo(now - 180_000, nowMillis: now) == "3 min ago")
        #expect(timeAgo(now - 2_000, nowMillis: now) == "just now")
        #expect(timeAgo(now - 45_000, nowMillis: now) == "45 s ago")
        #expect(timeAgo(now - 7_200_000, nowMillis: now) == "2 h ago")
        #expect(timeAgo(now - 4 * 86_400_000, nowMillis: now) == "4 d ago")
        #expect(timeAgo(now + 60_000, nowMillis: now) == "in the future")
        #expect(bytesText(812) == "812 B")
        #expect(bytesText(123_456) == "121 KiB")
        #expect(bytesText(3_565_158) == "3.4 MiB")
    }

    @Test func theOverviewCountsEveryDeviceOnce() {
        let now: Int64 = 1_700_000_400_000
        var degraded = SampleBatches.health
        degraded.takenAtMillis = now
        degraded.backlogOldestMillis = now - 720_000
        var healthy = degraded
        healthy.status = .healthy
        let rows = [
            DashboardStore.DeviceRow(name: "a", lastSeenMillis: now - 60_000, health: healthy),
            DashboardStore.DeviceRow(name: "b", lastSeenMillis: now, health: degraded),
            DashboardStore.DeviceRow(name: "c", lastSeenMillis: now - 3_600_000, health: healthy),
            DashboardStore.DeviceRow(name: "d", lastSeenMillis: nil, health: nil),
            DashboardStore.DeviceRow(name: "e", lastSeenMillis: now - 10_000, health: nil),
            // Its own threshold (an hour): silent 20 minutes is not offline.
            DashboardStore.DeviceRow(name: "f", lastSeenMillis: now - 1_200_000, health: healthy, offlineAfter: .seconds(3600)),
        ]
        let view = OverviewView(rows, nowMillis: now)
        #expect(view.counts == [.online: 3, .degraded: 1, .offline: 1, .neverSeen: 1])
        let b = view.rows[1]
        #expect(b["lastSeen"] as? String == "just now")
        #expect(b["stateLabel"] as? String == "degraded")
        #expect(b["reasons"] as? [String] == ["ph probe failing"])
        #expect(b["backlog"] as? String == "12 min")
        #expect(b["disk"] as? String == "121 KiB")
        #expect(b["drops"] as? Int64 == 4)
        #expect(b["alerts"] as? Int == 1)
        #expect(view.rows[3]["lastSeen"] as? String == "never")
    }

    @Test func aChartBreaksAtGapsAndDrawsThresholds() {
        let window = ChartWindow(.hour, nowMillis: 1_700_000_030_000)
        #expect(window.bucketMillis == 60_000 && window.buckets == 60)
        #expect(window.endMillis == 1_700_000_040_000 && window.startMillis == 1_699_996_440_000)
        let buckets = [0, 1, 2, 5, 6, 9].map { DashboardStore.Bucket(index: $0, min: 24, max: 26, mean: 25, count: 60) }
        let chart = SensorChart(sensor: "tank", unit: "°C", window: window, buckets: buckets,
                                thresholds: [.init(rule: "tank-hot", sensor: "tank", value: 28, severity: "critical")])
        #expect(chart.segments.map { $0.map(\.index) } == [[0, 1, 2], [5, 6], [9]])
        let svg = chart.svg()
        #expect(svg.contains(#"data-buckets="6" data-segments="3""#))
        #expect(svg.components(separatedBy: "<path class=\"mean\"").count - 1 == 2)
        #expect(svg.components(separatedBy: "<circle class=\"mean\"").count - 1 == 1)
        #expect(svg.contains(#"data-rule="tank-hot" data-value="28.0""#))
        #expect(svg == chart.svg(), "the same input draws the same bytes")
        let empty = SensorChart(sensor: "<x>", unit: "", window: window, buckets: [], thresholds: []).svg()
        #expect(empty.contains("no readings in this range") && empty.contains("&lt;x&gt;") && !empty.contains("<x>"))
    }

    @Test func operatorTokensFileRules() throws {
        let parsed = try OperatorTokens.parse("# who may sign in\nalice 0123456789abcdef0123\n\nbob\tfedcba9876543210fedc\n", source: "ops")
        #expect(parsed == ["alice": TokenHash(of: "0123456789abcdef0123"), "bob": TokenHash(of: "fedcba9876543210fedc")])
        #expect(throws: ConfigurationError.self) { try OperatorTokens.parse("alice short\n", source: "ops") }
        #expect((try? OperatorTokens.parse("alice 0123456789abcdef0123\nalice 0123456789abcdef9999\n", source: "ops")) == nil)
        do {
            _ = try OperatorTokens.parse("just-one-field\n", source: "ops")
            Issue.record("a line without a token was accepted")
        } catch let error as ConfigurationError {
            #expect(error.description == "ops line 1 is not `name token`")
        }
    }

    @Test func sessionsExpireAndAreBounded() {
        let store = SessionStore(lifetime: .seconds(60), limit: 2)
        let start = ContinuousClock.now
        let (first, session) = store.start(operatorName: "admin", now: start)
        #expect(store.session(first, now: start + .seconds(59)) == session)
        #expect(store.session(first, now: start + .seconds(60)) == nil)
        #expect(store.session(first, now: start) == nil, "an expired session is dropped")
        let (a, _) = store.start(operatorName: "a", now: start)
        let (b, _) = store.start(operatorName: "b", now: start + .seconds(1))
        let (c, _) = store.start(operatorName: "c", now: start + .seconds(2))
        #expect(store.count == 2)
        #expect(store.session(a, now: start + .seconds(3)) == nil)
        #expect(store.session(b, now: start + .seconds(3))?.operatorName == "b")
        #expect(store.session(c, now: start + .seconds(3))?.operatorName == "c")
        #expect(DashboardCookie.value("reef_session", in: "x=1; reef_session=abc; y=2") == "abc")
        #expect(DashboardCookie.set("reef_session", "abc", maxAge: 60) == "reef_session=abc; Path=/dashboard; Max-Age=60; HttpOnly; Secure; SameSite=Strict")
        #expect(csvField("=cmd") == "'=cmd" && csvField("a,b") == "\"a,b\"" && csvField("tank") == "tank")
        #expect(FormBody("csrf=a%2Bb&token=x+y&csrf=second").fields == ["csrf": "a+b", "token": "x y"])
        var settings = DashboardSettings()
        #expect(settings.validationError() == nil)
        settings.maxSessions = 0
        #expect(settings.validationError() == "dashboard maxSessions must be from 1 to 100000")
    }

    // MARK: Sign-in in-process

    static func withDashboard(configure: (inout FleetServerConfiguration) -> Void = { _ in },
                              _ body: @Sendable (any TestClientProtocol, LogRecorder) async throws -> Void) async throws {
        var configuration = FleetServerConfiguration(
            tls: nil, database: .init(host: "127.0.0.1", port: 1, username: "unused", password: nil, database: nil, tls: .disable),
            databaseTimeout: .seconds(1), adminTokenHash: TokenHash(of: adminToken))
        configure(&configuration)
        let recorder = LogRecorder()
        var logger = Logger(label: "dashboard-in-process") { _ in recorder.handler() }
        logger.logLevel = .info
        // Never run: none of these requests reaches the database.
        let client = PostgresClient(configuration: configuration.database, backgroundLogger: logger)
        let router = Router(context: FleetRequestContext.self)
        let metrics = FleetMetrics()
        metrics.instrument(router)
        let routes = FleetRoutes(store: MemoryFleetStore(), configuration: configuration)
        routes.register(on: router)
        let pool = WorkerPool(client: client, settings: configuration.worker, handlers: [], duties: [], logger: logger, ready: {})
        DashboardRoutes(client: client, configuration: configuration, admin: routes.admin, pool: pool,
                        notifications: NotificationAdminAPI(routes: routes, client: client, settings: configuration.notifications, logger: logger),
                        metrics: metrics, logger: logger).register(on: router)
        try await Application(router: router, logger: logger).test(.router) { client in try await body(client, recorder) }
    }

    /// The sign-in form's CSRF cookie and field, as a browser would send them back.
    static func signInForm(_ client: any TestClientProtocol) async throws -> (cookie: String, csrf: String) {
        let page = try await client.execute(uri: "/dashboard/sign-in", method: .get)
        let cookie = try #require(page.headers[values: .setCookie].first { $0.hasPrefix("reef_signin=") })
        let value = String(cookie.dropFirst("reef_signin=".count).prefix { $0 != ";" })
        return (value, value)
    }

    static func postSignIn(_ client: any TestClientProtocol, token: String, csrf: String?, cookie: String?) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let cookie { headers[.cookie] = "reef_signin=\(cookie)" }
        let body = (csrf.map { "csrf=\($0)&" } ?? "") + "token=\(token)"
        return try await client.execute(uri: "/dashboard/sign-in", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    @Test func signInSetsAStrictSessionCookieAndPagesNeedIt() async throws {
        try await Self.withDashboard { client, log in
            let anonymous = try await client.execute(uri: "/dashboard", method: .get)
            #expect(anonymous.status == .seeOther)
            #expect(anonymous.headers[.location] == "/dashboard/sign-in")
            for path in ["/dashboard/fragments/overview", "/dashboard/devices/reef-1", "/dashboard/devices/reef-1/export.csv",
                         "/dashboard/notifications", "/dashboard/workers"] {
                #expect(try await client.execute(uri: path, method: .get).headers[.location] == "/dashboard/sign-in", "\(path)")
            }
            let (cookie, csrf) = try await Self.signInForm(client)
            #expect(try await Self.postSignIn(client, token: Self.adminToken, csrf: nil, cookie: cookie).status == .forbidden)
            #expect(try await Self.postSignIn(client, token: Self.adminToken, csrf: "forged", cookie: cookie).status == .forbidden)
            let signedIn = try await Self.postSignIn(client, token: Self.adminToken, csrf: csrf, cookie: cookie)
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.headers[.location] == "/dashboard")
            let session = try #require(signedIn.headers[values: .setCookie].first { $0.hasPrefix("reef_session=") })
            #expect(session.hasSuffix("; Path=/dashboard; Max-Age=43200; HttpOnly; Secure; SameSite=Strict"))
            #expect(log.lines.contains { $0.contains("dashboard sign-in") && $0.contains("operator=admin") })
            #expect(!log.lines.contains { $0.contains(Self.adminToken) })

            // Signed in, a form without the session's CSRF token is refused and the session stays.
            let value = String(session.dropFirst("reef_session=".count).prefix { $0 != ";" })
            let forged = try await client.execute(uri: "/dashboard/sign-out", method: .post,
                                                  headers: [.cookie: "reef_session=\(value)", .contentType: "application/x-www-form-urlencoded"],
                                                  body: ByteBuffer(string: "csrf=forged"))
            #expect(forged.status == .forbidden)
            let css = try await client.execute(uri: "/dashboard/assets/app.css", method: .get)
            #expect(css.status == .ok && css.headers[.contentType] == "text/css; charset=utf-8")
        }
    }

    @Test func deviceTokensCannotSignInAndFailuresShareTheAdminLimit() async throws {
        try await Self.withDashboard(configure: { $0.adminFailuresAllowed = 2 }) { client, log in
            let (cookie, csrf) = try await Self.signInForm(client)
            let device = try await Self.postSignIn(client, token: DeviceToken.generate(), csrf: csrf, cookie: cookie)
            #expect(device.status == .seeOther)
            #expect(device.headers[.location] == "/dashboard/sign-in?failed=token")
            let page = try await client.execute(uri: "/dashboard/sign-in?failed=token", method: .get)
            #expect(page.status == .ok && String(buffer: page.body).contains("That token does not open the dashboard."))
            // The read API's failures and the dashboard's count together, per address.
            let api = try await client.execute(uri: "/v1/devices", method: .get, headers: [.authorization: "Bearer wrong-token-0123456789"])
            #expect(api.status == .unauthorized)
            let limited = try await Self.postSignIn(client, token: Self.adminToken, csrf: csrf, cookie: cookie)
            #expect(limited.status == .seeOther)
            let wait = try #require(Int(limited.headers[.retryAfter] ?? ""))
            #expect(wait > 50)
            #expect(limited.headers[.location] == "/dashboard/sign-in?failed=limited&wait=\(wait)")
            let failures = log.lines.filter { $0.contains("admin authentication failed") }
            #expect(failures.count == 2)
            #expect(failures.first?.contains("path=/dashboard/sign-in") == true)
        }
    }

    @Test func namedOperatorsSignInUnderTheirName() async throws {
        let token = "alice-token-0123456789abcdef"
        try await Self.withDashboard(configure: { $0.dashboard.operators = ["alice": TokenHash(of: token)] }) { client, log in
            let (cookie, csrf) = try await Self.signInForm(client)
            #expect(try await Self.postSignIn(client, token: token, csrf: csrf, cookie: cookie).status == .seeOther)
            #expect(log.lines.contains { $0.contains("dashboard sign-in") && $0.contains("operator=alice") })
        }
    }
}
