import EdgeCore
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Wire

/// The reference fleet server: `POST /v1/batches` for devices, a small read API for
/// operators, `/healthz` for load balancers.
public enum FleetServer {
    /// Builds the whole server: `FleetRoutes` on a `PostgresFleetStore`, behind the
    /// connection limits and TLS. Running it (`run()` or as a service) starts its PostgreSQL
    /// client, applies migrations, then listens.
    ///
    /// The application also runs a `WorkerPool` doing `handlers`' jobs and `duties` (with
    /// none it still rescues expired leases and keeps the queue's tables bounded), and
    /// serves the worker's health and admin routes. By default (nil) they are the
    /// notifications' from the configuration: the `notify` job handler, the group flusher
    /// and the device-offline detector.
    ///
    /// - Parameter onServerRunning: receives the bound port (useful with port 0).
    public static func makeApplication(
        configuration: FleetServerConfiguration,
        logger: Logger,
        handlers: [any JobHandler]? = nil,
        duties: [any PeriodicDuty]? = nil,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> Application<RouterResponder<FleetRequestContext>> {
        let problems = configuration.validationErrors()
        if !problems.isEmpty { throw ConfigurationError(problems.joined(separator: "\n")) }
        let client = PostgresClient(configuration: configuration.database, backgroundLogger: logger)
        let router = Router(context: FleetRequestContext.self)
        let metrics = FleetMetrics()
        metrics.instrument(router)
        let routes = FleetRoutes(store: PostgresFleetStore(client: client, logger: logger, notifications: configuration.notifications),
                                 configuration: configuration)
        routes.register(on: router)
        let notifications = NotificationWiring(settings: configuration.notifications, client: client, logger: logger)
        notifications.adminAPI(routes).register(on: router)
        let handlers = handlers ?? notifications.handlers
        let duties = duties ?? notifications.duties
        // The workers start once the schema is migrated (their tables exist).
        let migrated = AsyncStream<Void>.makeStream()
        let pool = WorkerPool(client: client, settings: configuration.worker, handlers: handlers, duties: duties, logger: logger,
                              ready: { for await _ in migrated.stream { return }; throw CancellationError() })
        WorkerRoutes(fleet: routes, pool: pool, settings: configuration.worker).register(on: router)
        DashboardRoutes(client: client, configuration: configuration, admin: routes.admin, pool: pool,
                        notifications: notifications.adminAPI(routes),
                        metrics: metrics, logger: logger).register(on: router)

        let limits = configuration.connections
        let sslContext = try configuration.tls.map { try NIOSSLContext(configuration: try tlsConfiguration($0)) }
        let byAddress = ConnectionsByAddress(limit: limits.maxConnectionsPerAddress)
        let server = HTTPServerBuilder { responder in
            FleetChildChannel(http: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: TimeAmount(limits.idleTimeout))),
                              sslContext: sslContext, handshakeTimeout: limits.handshakeTimeout, byAddress: byAddress)
        }
        var application = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "reef-fleet",
                                 availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)),
            services: [client, pool],
            onServerRunning: { await onServerRunning($0.localAddress?.port ?? configuration.port) },
            logger: logger)
        application.beforeServerStarts {
            try await withDeadline(configuration.databaseTimeout * 6) { try await Schema.migrate(client, logger: logger) }
            migrated.continuation.yield()
        }
        return application
    }

    static func tlsConfiguration(_ files: FleetServerConfiguration.TLSFiles) throws -> TLSConfiguration {
        for (role, path) in [("certificate", files.certificateChain), ("private key", files.privateKey), ("client CA", files.clientCA)] {
            guard let path else { continue }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigurationError("TLS \(role) file \(path) does not exist or is not readable")
            }
        }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(files.certificateChain).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: files.privateKey, format: .pem)))
        if let clientCA = files.clientCA {
            // Devices are identified by token, not by host name: verify the chain only.
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCA))
        }
        return tls
    }
}

/// The request context: Hummingbird's basic one plus the client's address, which admin
/// login limits and connection logs need, and the server's JSON encoding.
public struct FleetRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The socket's peer. Settable so in-process tests (which have no socket) can say
    /// which client a request comes from.
    public var remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    public var responseEncoder: FleetJSONEncoder { FleetJSONEncoder() }

    /// The client's IP address, the key for per-client limits.
    var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}
