import Logging
import NotifyDelivery
import PostgresNIO

/// What `FleetServer.makeApplication` adds for notifications, from the configuration: the
/// `notify` handler, the flusher and offline-detector duties, and the admin routes. The batch
/// ingest's half (the outbox) is `PostgresFleetStore`'s, given the same settings.
struct NotificationWiring {
    let settings: NotificationSettings
    let client: PostgresClient
    let logger: Logger

    /// `handlers`, plus the notify handler unless the caller brought its own (a test's).
    func handlers(with handlers: [any JobHandler]) -> [any JobHandler] {
        if handlers.contains(where: { $0.kind == NotifyJobArgs.kind }) { return handlers }
        return handlers + [NotifyJobHandler(settings: settings, ledger: NotificationLedger(client: client, logger: logger), logger: logger)]
    }

    var duties: [any PeriodicDuty] {
        [NotificationFlusher(settings: settings, logger: logger), DeviceOfflineDetector(settings: settings, logger: logger)]
    }

    func adminAPI(_ routes: FleetRoutes) -> NotificationAdminAPI {
        NotificationAdminAPI(routes: routes, client: client, settings: settings, logger: logger)
    }
}
