import Foundation
import Hummingbird
import Logging
import NotifyDelivery
import PostgresNIO

/// The notification part of the admin API, behind the admin token (`FleetRoutes.admin`):
///
/// | | |
/// |---|---|
/// | `GET /v1/admin/routes` | every route, with where it comes from (`configuration` or `api`) |
/// | `PUT /v1/admin/routes/{id}` | adds or replaces an API route (a route's JSON; `id` from the path) |
/// | `DELETE /v1/admin/routes/{id}` | removes an API route |
/// | `GET /v1/admin/receivers` | every receiver with its last delivery and last error |
/// | `POST /v1/admin/receivers/{id}/test` | enqueues a test message to the receiver (202) |
/// | `PUT /v1/admin/devices/{name}/labels` | replaces a device's labels (`{"site": "garage"}`) |
/// | `PUT /v1/admin/devices/{name}/offline-threshold` | `{"seconds": 900}`, or `{"seconds": null}` for the default |
public struct NotificationAdminAPI: Sendable {
    let routes: FleetRoutes
    let client: PostgresClient
    let settings: NotificationSettings
    let logger: Logger

    public init(routes: FleetRoutes, client: PostgresClient, settings: NotificationSettings, logger: Logger) {
        self.routes = routes
        self.client = client
        self.settings = settings
        self.logger = logger
    }

    /// Queues a test message to receiver `id` (the API's and the dashboard's Test button);
    /// returns the job's unique key.
    func enqueueTest(receiver id: String) async throws -> String {
        let args = NotifyJobArgs(receiver: id, route: "", groupID: 0, flush: 0, groupKey: "{}/{test=\"\(id)\"}:{}", groupLabels: [:],
                                 notices: [], testAtMillis: Int64(Date().timeIntervalSince1970 * 1000))
        try await client.withTransaction(logger: logger) { _ = try await JobQueue.insert([args.newJob], on: $0, logger: logger) }
        return args.uniqueKey
    }

    public func register(on router: Router<FleetRequestContext>) {
        let store = NotificationRouteStore(settings: settings, logger: logger)
        router.get("/v1/admin/routes") { request, context -> [NotificationRouteStore.Entry] in
            try routes.admin.require(request, context: context)
            return try await routes.fetching(context) { try await client.withConnection { try await store.all(on: $0) } }
        }
        router.put("/v1/admin/routes/:id") { request, context -> Response in
            try routes.admin.require(request, context: context)
            let route = try await Self.route(request, id: context.parameters.get("id") ?? "", context: context)
            let change = try await routes.fetching(context) { try await client.withConnection { try await store.put(route, on: $0) } }
            return try Self.answer(change, id: route.id)
        }
        router.delete("/v1/admin/routes/:id") { request, context -> Response in
            try routes.admin.require(request, context: context)
            let id = context.parameters.get("id") ?? ""
            let change = try await routes.fetching(context) { try await client.withConnection { try await store.delete(id, on: $0) } }
            return try Self.answer(change, id: id)
        }
        router.get("/v1/admin/receivers") { request, context -> [ReceiverStatus] in
            try routes.admin.require(request, context: context)
            return try await routes.fetching(context) { try await receiverStatus() }
        }
        router.post("/v1/admin/receivers/:id/test") { request, context -> Response in
            try routes.admin.require(request, context: context)
            let id = context.parameters.get("id") ?? ""
            guard settings.receiver(id) != nil else {
                throw FleetError(.notFound, "not_found", "no receiver named \"\(id)\"; configured: \(settings.receivers.map(\.id).joined(separator: ", "))")
            }
            let key = try await routes.fetching(context) { try await enqueueTest(receiver: id) }
            var response = Response(status: .accepted)
            response.headers[.contentType] = "application/json"
            response.body = .init(byteBuffer: ByteBuffer(string: #"{"job":"\#(key)"}"#))
            return response
        }
        router.put("/v1/admin/devices/:name/labels") { request, context -> Response in
            try routes.admin.require(request, context: context)
            let body = try await request.body.collect(upTo: 64 * 1024)
            guard let labels = try? JSONDecoder().decode([String: String].self, from: Data(buffer: body)) else {
                throw FleetError(.badRequest, "bad_request", "the body must be a JSON object of label names to values, e.g. {\"site\": \"garage\"}")
            }
            let name = context.parameters.get("name") ?? ""
            try await Self.run(routes, context) { try await DeviceNotificationSettings.setLabels(labels, device: name, client: client, logger: logger) }
            return Response(status: .noContent)
        }
        router.put("/v1/admin/devices/:name/offline-threshold") { request, context -> Response in
            try routes.admin.require(request, context: context)
            struct Body: Decodable { var seconds: Int? }
            let body = try await request.body.collect(upTo: 4096)
            guard let seconds = try? JSONDecoder().decode(Body.self, from: Data(buffer: body)).seconds as Int?? else {
                throw FleetError(.badRequest, "bad_request", "the body must be {\"seconds\": N} or {\"seconds\": null}")
            }
            let name = context.parameters.get("name") ?? ""
            try await Self.run(routes, context) {
                try await DeviceNotificationSettings.setOfflineThreshold(seconds, device: name, client: client, logger: logger)
            }
            return Response(status: .noContent)
        }
    }

    /// A receiver as the admin API shows it: never its credential, only where the file is.
    public struct ReceiverStatus: Codable, Sendable, Hashable, ResponseEncodable {
        public var id: String
        public var kind: String
        public var url: String
        public var lastDeliveredMillis: Int64?
        public var lastError: String?
        public var lastErrorMillis: Int64?
    }

    func receiverStatus() async throws -> [ReceiverStatus] {
        var known: [String: (Int64?, String?, Int64?)] = [:]
        let rows = try await client.query("SELECT receiver, last_delivered_ms, last_error, last_error_ms FROM notify_receivers", logger: logger)
        for try await (receiver, delivered, error, errorAt) in rows.decode((String, Int64?, String?, Int64?).self) {
            known[receiver] = (delivered, error, errorAt)
        }
        return settings.receivers.map { receiver in
            let status = known[receiver.id]
            return ReceiverStatus(id: receiver.id, kind: receiver.kind.rawValue, url: receiver.target.redactedURL,
                                  lastDeliveredMillis: status?.0, lastError: status?.1, lastErrorMillis: status?.2)
        }
    }

    static func route(_ request: Request, id: String, context: FleetRequestContext) async throws -> NotificationRoute {
        let body = try await request.body.collect(upTo: 256 * 1024)
        guard var object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            throw FleetError(.badRequest, "bad_request", "the body must be a route as a JSON object (docs/NOTIFICATIONS.md, \"Routes and receivers\")")
        }
        object["id"] = id
        do {
            return try JSONDecoder().decode(NotificationRoute.self, from: try JSONSerialization.data(withJSONObject: object))
        } catch {
            throw FleetError(.badRequest, "bad_request", "the route does not decode: \(error)")
        }
    }

    static func answer(_ change: NotificationRouteStore.Change, id: String) throws -> Response {
        switch change {
        case .stored: return Response(status: .noContent)
        case .refused(let errors): throw FleetError(.unprocessableContent, "invalid_route", errors.joined(separator: "; "))
        case .configured:
            throw FleetError(.conflict, "configured_route", "route \"\(id)\" is in the server's configuration file; change it there")
        case .missing: throw FleetError(.notFound, "not_found", "no API route named \"\(id)\"")
        }
    }

    static func run(_ routes: FleetRoutes, _ context: FleetRequestContext,
                    _ operation: @escaping @Sendable () async throws -> Void) async throws {
        try await routes.fetching(context) {
            do {
                try await operation()
            } catch let error as DeviceNotificationSettings.Refusal {
                throw FleetError(error.missing ? .notFound : .badRequest, error.missing ? "not_found" : "bad_request", error.description)
            }
        }
    }
}

extension NotificationRouteStore.Entry: ResponseEncodable {}

extension NotifyTarget {
    /// The URL as the admin API shows it: without any user or password it carries.
    var redactedURL: String {
        guard var components = URLComponents(string: url), components.user != nil || components.password != nil else { return url }
        components.user = nil
        components.password = nil
        return components.string ?? "(unparseable)"
    }
}
