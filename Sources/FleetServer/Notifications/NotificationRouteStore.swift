import Foundation
import Logging
import PostgresNIO

/// The routes in force: the configuration's, then those added through the admin API
/// (`notify_routes`, which only this type writes). A configuration route cannot be replaced or
/// deleted through the API — the file would bring it back at the next start — so the two never
/// disagree about an id.
public struct NotificationRouteStore: Sendable {
    public enum Source: String, Codable, Sendable { case configuration, api }

    public struct Entry: Codable, Sendable, Hashable {
        public var source: Source
        public var route: NotificationRoute
    }

    let settings: NotificationSettings
    let logger: Logger

    public init(settings: NotificationSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    func all(on connection: PostgresConnection) async throws -> [Entry] {
        var entries = settings.routes.map { Entry(source: .configuration, route: $0) }
        let configured = Set(settings.routes.map(\.id))
        let rows = try await connection.query("SELECT id, spec::text FROM notify_routes ORDER BY id", logger: logger)
        for try await (id, spec) in rows.decode((String, String).self) where !configured.contains(id) {
            do {
                entries.append(Entry(source: .api, route: try JSONDecoder().decode(NotificationRoute.self, from: Data(spec.utf8))))
            } catch {
                // Written by this type after validation; a row that no longer decodes (a newer
                // server's) is skipped, loudly, rather than stopping every batch.
                logger.error("a stored notification route does not decode; it is ignored", metadata: ["route": "\(id)", "error": "\(error)"])
            }
        }
        return entries
    }

    public enum Change: Sendable, Equatable {
        case stored
        case refused([String])
        case configured
        case missing
    }

    /// Adds or replaces an API route after checking it names known receivers and sane values.
    func put(_ route: NotificationRoute, on connection: PostgresConnection) async throws -> Change {
        if settings.routes.contains(where: { $0.id == route.id }) { return .configured }
        let errors = route.validationErrors(path: "route", receivers: Set(settings.receivers.map(\.id)))
        guard errors.isEmpty else { return .refused(errors) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let spec = String(decoding: try encoder.encode(route), as: UTF8.self)
        try await connection.query("""
            INSERT INTO notify_routes (id, spec) VALUES (\(route.id), \(spec)::jsonb)
            ON CONFLICT (id) DO UPDATE SET spec = EXCLUDED.spec, updated = now()
            """, logger: logger)
        return .stored
    }

    func delete(_ id: String, on connection: PostgresConnection) async throws -> Change {
        if settings.routes.contains(where: { $0.id == id }) { return .configured }
        let rows = try await connection.query("DELETE FROM notify_routes WHERE id = \(id) RETURNING id", logger: logger)
        for try await _ in rows.decode(String.self) { return .stored }
        return .missing
    }
}
