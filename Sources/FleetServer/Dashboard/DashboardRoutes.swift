import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import Wire

/// The operators' side of the server in a browser: sign-in into a session, the fleet
/// overview, device pages, notifications and workers; and `/metrics` for Prometheus. All of
/// it reads PostgreSQL directly (`DashboardStore`) and renders HTML on the server.
///
/// Sign-in takes the admin token (checked by the read API's `AdminAuthenticator`, so failed
/// sign-ins count and are logged with failed API logins) or a named operator token. Every
/// page and fragment without a live session answers 303 to the sign-in page; every POST
/// must carry the session's CSRF token (403 otherwise).
public struct DashboardRoutes: Sendable {
    let store: DashboardStore
    let sessions: SessionStore
    let settings: DashboardSettings
    let admin: AdminAuthenticator
    public let metrics: FleetMetrics
    let configuration: FleetServerConfiguration
    /// The job queue's workers: the Notifications and Workers tabs and the queue's metrics.
    let pool: WorkerPool
    /// The notifications' admin API: receivers, routes, test messages.
    let notifications: NotificationAdminAPI
    var workerSettings: WorkerSettings { configuration.worker }
    let templates = DashboardTemplates()
    let logger: Logger

    public init(client: PostgresClient, configuration: FleetServerConfiguration, admin: AdminAuthenticator, pool: WorkerPool,
                notifications: NotificationAdminAPI, metrics: FleetMetrics, logger: Logger) {
        store = DashboardStore(client: client, logger: logger,
                               defaultOfflineSeconds: configuration.notifications.defaults.offlineAfterSeconds)
        settings = configuration.dashboard
        sessions = SessionStore(lifetime: settings.sessionLifetime, limit: settings.maxSessions)
        self.admin = admin
        self.metrics = metrics
        self.configuration = configuration
        self.pool = pool
        self.notifications = notifications
        self.logger = logger
    }

    /// Reads a page may take: a month of 1 s readings is aggregated in one statement.
    var pageTimeout: Duration { configuration.databaseTimeout * 4 }

    public func register(on router: Router<FleetRequestContext>) {
        router.get("/metrics") { request, context in try await scrape(request, context: context) }
        router.get("/dashboard/assets/app.css") { _, _ in asset(DashboardAssets.css, type: "text/css; charset=utf-8") }
        router.get("/dashboard/assets/app.js") { _, _ in asset(DashboardAssets.js, type: "text/javascript; charset=utf-8") }
        router.get("/dashboard/sign-in") { request, _ in signInPage(request) }
        router.post("/dashboard/sign-in") { request, context in try await signIn(request, context: context) }
        router.post("/dashboard/sign-out") { request, context in
            try await posted(request, context) { _, _ in
                sessions.end(DashboardCookie.value(DashboardCookie.session, in: request.headers[.cookie]))
                var response = redirect("/dashboard/sign-in")
                response.headers.append(HTTPField(name: .setCookie, value: DashboardCookie.clear(DashboardCookie.session)))
                return response
            }
        }
        router.get("/dashboard") { request, context in
            try await page(request, context, tab: "overview") { session in
                let view = try await overviewView()
                return (.ok, "Devices", templates.render("overview", view))
            }
        }
        router.get("/dashboard/fragments/overview") { request, context in
            guard sessionOf(request) != nil else { return redirect("/dashboard/sign-in") }
            do {
                let view = try await overviewView()
                return html(.ok, templates.render("overview-table", view))
            } catch {
                return html(.serviceUnavailable, "<p class=\"problem\">The database is unavailable; the page retries.</p>")
            }
        }
        router.get("/dashboard/devices/:name") { request, context in
            try await page(request, context, tab: "overview") { _ in try await devicePage(request, context) }
        }
        router.get("/dashboard/devices/:name/export.csv") { request, context in
            guard sessionOf(request) != nil else { return redirect("/dashboard/sign-in") }
            return try await exportCSV(request, context)
        }
        registerQueuePages(on: router)
    }

    // MARK: Sessions

    func sessionOf(_ request: Request) -> DashboardSession? {
        sessions.session(DashboardCookie.value(DashboardCookie.session, in: request.headers[.cookie]))
    }

    /// A signed-in GET page: 303 to sign-in without a session; the layout around `body`'s HTML.
    func page(_ request: Request, _ context: FleetRequestContext, tab: String,
              _ body: (DashboardSession) async throws -> (HTTPResponse.Status, String, String)) async throws -> Response {
        guard let session = sessionOf(request) else { return redirect("/dashboard/sign-in") }
        do {
            let (status, title, content) = try await body(session)
            return html(status, layout(title: title, content: content, session: session, tab: tab))
        } catch let error as DashboardProblem {
            let content = templates.render("error", ["heading": error.heading, "message": error.message])
            return html(error.status, layout(title: error.heading, content: content, session: session, tab: tab))
        } catch {
            context.logger.warning("a dashboard page could not read the database", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            let content = templates.render("error", ["heading": "Database unavailable",
                                                     "message": "The database did not answer in time; reload the page to try again."])
            return html(.serviceUnavailable, layout(title: "Database unavailable", content: content, session: session, tab: tab))
        }
    }

    /// A signed-in POST: 303 to sign-in without a session, 403 without the session's CSRF token.
    func posted(_ request: Request, _ context: FleetRequestContext,
                _ body: (DashboardSession, FormBody) async throws -> Response) async throws -> Response {
        guard let session = sessionOf(request) else { return redirect("/dashboard/sign-in") }
        let form = try await FormBody.read(request)
        guard let csrf = form["csrf"], sameSecret(csrf, session.csrfToken) else {
            context.logger.warning("dashboard form without its CSRF token refused", metadata: [
                "client": "\(context.clientAddress)", "path": "\(request.uri.path)", "operator": "\(session.operatorName)",
            ])
            let content = templates.render("error", ["heading": "Form refused",
                                                     "message": "The form did not carry this session's CSRF token; reload the page and try again."])
            return html(.forbidden, layout(title: "Form refused", content: content, session: session, tab: ""))
        }
        return try await body(session, form)
    }

    /// The sign-in page. A refused sign-in comes back here through a redirect (`?failed=`),
    /// so the browser does not offer to post the token again, and no error status shows up
    /// as a console error.
    func signInPage(_ request: Request, message: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        var message = message
        let query = request.uri.queryParameters
        switch query.get("failed") {
        case "token": message = "That token does not open the dashboard."
        case "limited": message = "Too many failed sign-ins from this address; try again in \(Int(query.get("wait") ?? "") ?? 60) s."
        default: if message == nil, sessionOf(request) != nil { return redirect("/dashboard") }
        }
        let csrf = DeviceToken.generate()
        var view: [String: Any] = ["csrf": csrf]
        if let message { view["message"] = message }
        var response = html(status, layout(title: "Sign in", content: templates.render("sign-in", view), session: nil, tab: ""))
        response.headers.append(HTTPField(name: .setCookie, value: DashboardCookie.set(DashboardCookie.signIn, csrf, maxAge: 3600)))
        return response
    }

    /// Checks the sign-in form's own CSRF token, then the token: rate limit first (the
    /// `AdminGuard` every admin route shares), then the operator tokens, then the admin token
    /// through `AdminAuthenticator`, which counts and logs a failure.
    func signIn(_ request: Request, context: FleetRequestContext) async throws -> Response {
        let form = try await FormBody.read(request)
        guard let csrf = form["csrf"], let expected = DashboardCookie.value(DashboardCookie.signIn, in: request.headers[.cookie]),
              sameSecret(csrf, expected) else {
            context.logger.warning("dashboard sign-in without its CSRF token refused", metadata: ["client": "\(context.clientAddress)"])
            return signInPage(request, message: "The sign-in form expired or came from elsewhere; sign in again.", status: .forbidden)
        }
        let token = (form["token"] ?? "").trimmingCharacters(in: .whitespaces)
        let address = context.clientAddress
        if let wait = admin.guard.retryAfter(address) { return refused(limitedFor: wait) }
        let hash = TokenHash(of: token)
        var name = settings.operators.sorted { $0.key < $1.key }.first { hash.matches($0.value) }?.key
        if name == nil {
            if admin.tokenHash == nil {
                // No admin token to check: count and log the failure here, as the authenticator would.
                let failures = admin.guard.recordFailure(address)
                context.logger.warning("admin authentication failed", metadata: [
                    "client": "\(address)", "path": "\(request.uri.path)", "failures": "\(failures)", "token": "wrong",
                ])
            } else {
                // The form's token checked exactly as a bearer token on the read API.
                var head = request.head
                head.headerFields[.authorization] = "Bearer \(token)"
                let probe = Request(head: head, body: .init(buffer: ByteBuffer()))
                do {
                    try admin.require(probe, context: context)
                    name = "admin"
                } catch let error as FleetError {
                    if error.status == .tooManyRequests, let wait = error.retryAfter { return refused(limitedFor: wait) }
                    return redirect("/dashboard/sign-in?failed=token")
                }
            }
        }
        guard let name else { return redirect("/dashboard/sign-in?failed=token") }
        let (cookie, _) = sessions.start(operatorName: name)
        context.logger.info("dashboard sign-in", metadata: ["client": "\(address)", "operator": "\(name)"])
        var response = redirect("/dashboard")
        response.headers.append(HTTPField(name: .setCookie,
                                          value: DashboardCookie.set(DashboardCookie.session, cookie, maxAge: Int(settings.sessionLifetime.components.seconds))))
        response.headers.append(HTTPField(name: .setCookie, value: DashboardCookie.clear(DashboardCookie.signIn)))
        return response
    }

    /// Past the failed-login limit: back to sign-in with the wait, and `Retry-After`.
    func refused(limitedFor wait: Int) -> Response {
        var response = redirect("/dashboard/sign-in?failed=limited&wait=\(wait)")
        response.headers[.retryAfter] = String(wait)
        return response
    }

    // MARK: Rendering

    func layout(title: String, content: String, session: DashboardSession?, tab: String) -> String {
        var view: [String: Any] = ["title": title, "body": content, "signedIn": session != nil,
                                   "onOverview": tab == "overview", "onNotifications": tab == "notifications", "onWorkers": tab == "workers"]
        if let session {
            view["csrf"] = session.csrfToken
            view["operatorName"] = session.operatorName
        }
        return templates.render("layout", view)
    }
}

/// A page that cannot be shown, with the words for the operator.
struct DashboardProblem: Error {
    var status: HTTPResponse.Status
    var heading: String
    var message: String
}

func html(_ status: HTTPResponse.Status, _ text: String) -> Response {
    Response(status: status, headers: pageHeaders("text/html; charset=utf-8"), body: .init(byteBuffer: ByteBuffer(string: text)))
}

func redirect(_ location: String) -> Response {
    var headers = pageHeaders("text/plain; charset=utf-8")
    headers[.location] = location
    return Response(status: .seeOther, headers: headers)
}

func asset(_ text: String, type: String) -> Response {
    var headers = pageHeaders(type)
    headers[.cacheControl] = "max-age=300"
    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
}

/// No inline script or style runs (the CSP), no other site frames the pages, nothing is cached.
func pageHeaders(_ contentType: String) -> HTTPFields {
    [
        .contentType: contentType,
        .cacheControl: "no-store",
        .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        HTTPField.Name("X-Frame-Options")!: "DENY",
    ]
}
