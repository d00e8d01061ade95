import Logging
import NotifyDelivery
import PostgresNIO

/// What `FleetServer.makeApplication` runs for notifications, from the configuration: the
/// `notify` handler, the flusher and offline-detector duties (its defaults when the caller
/// passes none), and the admin routes. The batch
/// ingest's half (the outbox) is `PostgresFleetStore`'s, given the same settings.
struct NotificationWiring {
    let settings: NotificationSettings
    let client: PostgresClient
    let logger: Logger

    /// The `notify` handler.
    var handlers: [any JobHandler] {
        [NotifyJobHandler(settings: settings, ledger: NotificationLedger(client: client, logger: logger), logger: logger)]
    }

    var duties: [any PeriodicDuty] {
        [NotificationFlusher(settings: settings, logger: logger), DeviceOfflineDetector(settings: settings, logger: logger)]
    }

    func adminAPI(_ routes: FleetRoutes) -> NotificationAdminAPI {
        NotificationAdminAPI(routes: routes, client: client, settings: settings, logger: logger)
    }
}
