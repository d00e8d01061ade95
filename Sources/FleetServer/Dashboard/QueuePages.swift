import EdgeCore
import Foundation
import Hummingbird
import Wire

/// The Notifications and Workers tabs, on the job queue's own API (`JobQueue.jobs`,
/// `retry`, `retryDead`, `snapshot`, `WorkerHealth`): the dashboard shows and asks, the
/// queue decides.
extension DashboardRoutes {
    func registerQueuePages(on router: Router<FleetRequestContext>) {
        router.get("/dashboard/notifications") { request, context in
            try await page(request, context, tab: "notifications") { session in
                try await notificationsPage(request, session: session)
            }
        }
        router.post("/dashboard/notifications/jobs/:id/retry") { request, context in
            try await posted(request, context) { session, _ in
                let text = context.parameters.get("id") ?? ""
                guard let id = Int64(text), id > 0 else { return redirect("/dashboard/notifications") }
                let outcome: String
                do {
                    try await withDeadline(configuration.databaseTimeout) { [queue = pool.queue] in try await queue.retry(id: id) }
                    context.logger.info("dashboard retried a job", metadata: ["job": "\(id)", "operator": "\(session.operatorName)"])
                    outcome = "retried=\(id)"
                } catch let refusal as JobAdminRefusal {
                    outcome = "refused=\(id)"
                    context.logger.info("dashboard retry refused", metadata: ["job": "\(id)", "refusal": "\(refusal)"])
                }
                return redirect("/dashboard/notifications?\(outcome)")
            }
        }
        router.post("/dashboard/notifications/receivers/retry") { request, context in
            try await posted(request, context) { session, form in
                guard let receiver = form["receiver"], !receiver.isEmpty, receiver.count <= 200 else { return redirect("/dashboard/notifications") }
                let count = try await withDeadline(configuration.databaseTimeout) { [queue = pool.queue] in try await queue.retryDead(receiver: receiver) }
                context.logger.info("dashboard retried a receiver's dead jobs", metadata: [
                    "receiver": "\(receiver)", "jobs": "\(count)", "operator": "\(session.operatorName)",
                ])
                return redirect("/dashboard/notifications?state=dead")
            }
        }
        router.post("/dashboard/notifications/receivers/:id/test") { request, context in
            try await posted(request, context) { session, _ in
                let id = context.parameters.get("id") ?? ""
                guard configuration.notifications.receiver(id) != nil else { return redirect("/dashboard/notifications") }
                let key = try await withDeadline(configuration.databaseTimeout) { [notifications] in try await notifications.enqueueTest(receiver: id) }
                context.logger.info("dashboard queued a test message", metadata: ["receiver": "\(id)", "operator": "\(session.operatorName)"])
                _ = key
                return redirect("/dashboard/notifications?tested=\(id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
            }
        }
        router.get("/dashboard/workers") { request, context in
            try await page(request, context, tab: "workers") { _ in try await workersPage() }
        }
    }

    func notificationsPage(_ request: Request, session: DashboardSession) async throws -> (HTTPResponse.Status, String, String) {
        let query = request.uri.queryParameters
        let stateText = query.get("state") ?? "all"
        let state = JobState(rawValue: stateText)
        guard state != nil || stateText == "all" else {
            throw DashboardProblem(status: .badRequest, heading: "Unknown state",
                                   message: "state=\(stateText) is not one of all, \(JobState.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        let queue = pool.queue
        let window = workerSettings.health.window
        async let snapshotRead = withDeadline(pageTimeout) { try await queue.snapshot(window: window) }
        async let jobsRead = withDeadline(pageTimeout) { try await queue.jobs(id: nil, state: state, receiver: nil, limit: 200) }
        async let receiversRead = withDeadline(pageTimeout) { [notifications] in try await notifications.receiverStatus() }
        async let routesRead = withDeadline(pageTimeout) { [notifications] in try await notifications.routeEntries() }
        let (snapshot, jobs, receivers, routes) = try await (snapshotRead, jobsRead, receiversRead, routesRead)
        var notice: String?
        if let id = query.get("retried") { notice = "Job \(id) is queued again." }
        if let id = query.get("refused") { notice = "Job \(id) was not retried: only dead or cancelled jobs can be." }
        if let id = query.get("tested") { notice = "A test message to \(id) is queued; it shows below as a job." }
        let counters = Dictionary(snapshot.receivers.map { ($0.receiver, $0) }, uniquingKeysWith: { first, _ in first })
        // Configured receivers first, then any the queue still counts that the configuration no longer has.
        let names = receivers.map(\.id) + snapshot.receivers.map(\.receiver).filter { name in !receivers.contains { $0.id == name } }
        let view: [String: Any] = [
            "csrf": session.csrfToken,
            "notice": notice ?? "",
            "states": (["all"] + JobState.allCases.map(\.rawValue)).map { name -> [String: Any] in
                ["name": name, "count": name == "all" ? snapshot.depth.values.reduce(0, +) : snapshot.depth[JobState(rawValue: name)!] ?? 0,
                 "current": name == stateText]
            },
            "oldestDue": snapshot.oldestDueSeconds.map { ageText(seconds: $0) } ?? "none due",
            "jobs": jobs.map { job -> [String: Any] in
                ["id": job.id, "kind": job.kind, "receiver": job.receiver, "state": job.state.rawValue,
                 "attempts": "\(job.attempt) of \(job.maxAttempts)", "error": job.lastError ?? "",
                 "created": utcText(job.createdMillis, seconds: true), "retryable": job.state == .dead || job.state == .cancelled]
            },
            "receivers": names.map { name -> [String: Any] in
                let status = receivers.first { $0.id == name }
                let count = counters[name]
                return ["name": name, "kind": status?.kind ?? "not configured", "url": status?.url ?? "",
                        "lastDelivered": status?.lastDeliveredMillis.map { timeAgo($0, nowMillis: nowMillis()) } ?? "never",
                        "lastError": status?.lastError ?? "", "configured": status != nil,
                        "sent": count?.sent ?? 0, "failed": count?.failed ?? 0, "retried": count?.retried ?? 0,
                        "dead": count?.dead ?? 0, "rescued": count?.rescued ?? 0, "hasDead": (count?.dead ?? 0) > 0]
            },
            "routes": routes.map { entry -> [String: Any] in
                let route = entry.route
                return ["id": route.id, "source": entry.source.rawValue, "receivers": route.receivers.joined(separator: ", "),
                        "matches": routeMatch(route), "groupBy": route.groupBy, "sendResolved": route.sendResolved ? "yes" : "no"]
            },        ]
        return (.ok, "Notifications", templates.render("notifications", view))
    }

    func workersPage() async throws -> (HTTPResponse.Status, String, String) {
        let queue = pool.queue
        let thresholds = workerSettings.health
        let snapshot = try? await withDeadline(configuration.databaseTimeout) { try await queue.snapshot(window: thresholds.window) }
        let health = WorkerHealth(snapshot, thresholds: thresholds)
        let window = ChartWindow(.hour, nowMillis: nowMillis())
        let latency = (try? await withDeadline(pageTimeout) { [store] in try await store.deliveryLatency(window: window) }) ?? []
        let chart = SensorChart(sensor: "delivery latency", unit: "ms", window: window, buckets: latency, thresholds: [])
        let activity = pool.activity
        let stats = snapshot?.window ?? .init()
        let view: [String: Any] = [
            "status": health.status.rawValue, "reasons": health.reasons,
            "worker": activity.worker, "uptime": ageText(seconds: activity.uptimeSeconds), "held": activity.held,
            "kinds": activity.kinds.isEmpty ? "none" : activity.kinds.joined(separator: ", "),
            "lastActivity": activity.lastActivityMillis.map { timeAgo($0, nowMillis: nowMillis()) } ?? "none yet",
            "windowText": ageText(seconds: thresholds.window.inSeconds),
            "completed": stats.completed, "failed": stats.failed, "rescues": stats.rescues,
            "errorRate": stats.errorRate.map { String(format: "%.1f %%", $0 * 100) } ?? "—",
            "p50": stats.latencyP50Millis.map { String(format: "%.0f ms", $0) } ?? "—",
            "p95": stats.latencyP95Millis.map { String(format: "%.0f ms", $0) } ?? "—",
            "queue": JobState.allCases.map { ["state": $0.rawValue, "count": snapshot?.depth[$0] ?? 0] as [String: Any] },
            "receivers": (snapshot?.receivers ?? []).map { receiver -> [String: Any] in
                ["name": receiver.receiver, "sent": receiver.sent, "failed": receiver.failed, "dead": receiver.dead, "rescued": receiver.rescued]
            },
            "chart": chart.svg(),
        ]
        return (.ok, "Workers", templates.render("workers", view))
    }
}

/// What a route matches, in a line.
func routeMatch(_ route: NotificationRoute) -> String {
    var parts: [String] = ["severity ≥ \(route.minSeverity.rawValue)"]
    if !route.devices.isEmpty { parts.append("devices " + route.devices.joined(separator: ", ")) }
    if !route.labels.isEmpty { parts.append("labels " + route.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) }
    if !route.rules.isEmpty { parts.append("rules " + route.rules.joined(separator: ", ")) }
    parts.append(route.kinds.isEmpty ? "the default kinds" : "kinds " + route.kinds.joined(separator: ", "))
    return parts.joined(separator: "; ")
}

extension NotificationAdminAPI {
    /// Every route, configured and API-made.
    func routeEntries() async throws -> [NotificationRouteStore.Entry] {
        let store = NotificationRouteStore(settings: settings, logger: logger)
        return try await client.withConnection { try await store.all(on: $0) }
    }

}
