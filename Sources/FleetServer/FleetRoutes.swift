import Hummingbird
import Logging
import Wire

/// The HTTP rules: `POST /v1/batches` for devices, the read API for operators, `/healthz`
/// for load balancers, every failure answered as a `WireError`. They depend only on a
/// `FleetStoring`, so they run the same on PostgreSQL and, in tests, in memory.
///
/// Each handler checks cheap things first (token, headers, size), then reads and checks the
/// whole body, and only then takes a storage slot and touches the store with it.
public struct FleetRoutes: Sendable {
    let store: any FleetStoring
    let configuration: FleetServerConfiguration
    let gate: AdmissionGate
    /// Every admin route's token check; the worker and notification routes share it, so
    /// failed logins count once per address whichever route they hit.
    public let admin: AdminAuthenticator

    public init(store: any FleetStoring, configuration: FleetServerConfiguration) {
        self.store = store
        self.configuration = configuration
        gate = AdmissionGate(limit: configuration.maxConcurrentBatches, perDeviceLimit: configuration.maxConcurrentBatchesPerDevice)
        admin = AdminAuthenticator(tokenHash: configuration.adminTokenHash,
                                   guard: AdminGuard(maxFailures: configuration.adminFailuresAllowed, window: configuration.adminFailureWindow))
    }

    /// Adds the error middleware and the routes. Middleware the router already has wraps them.
    public func register(on router: Router<FleetRequestContext>) {
        router.add(middleware: WireErrorMiddleware())
        router.post(RouterPath(WireProtocol.batchPath)) { request, context in try await postBatch(request, context: context) }
        router.get("/v1/devices") { request, context in try await devices(request, context: context) }
        router.get("/v1/devices/:name/readings") { request, context in try await readings(request, context: context) }
        router.get("/v1/devices/:name/events") { request, context in try await events(request, context: context) }
        router.get("/healthz") { _, context in
            try await fetching(context) { try await store.ping() }
            return ["status": "ok"]
        }
    }

    /// Runs a read with the configured deadline; a store that does not answer in time or is
    /// unavailable becomes 503 with `Retry-After`, an operation the database rejected 500.
    func fetching<T: Sendable>(_ context: FleetRequestContext, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withDeadline(configuration.databaseTimeout, operation)
        } catch let error as FleetError {
            throw error
        } catch let FleetStoreFailure.rejected(sqlState, detail), let FleetStoreFailure.refusedData(sqlState, detail) {
            context.logger.error("the database rejected a statement", metadata: ["sqlstate": "\(sqlState)", "error": "\(detail)"])
            throw FleetError(.internalServerError, "internal", "the database rejected the operation (SQLSTATE \(sqlState))")
        } catch {
            context.logger.warning("the database is unavailable", metadata: ["error": "\(error)"])
            throw FleetError(.serviceUnavailable, "database_unavailable", "the database is unavailable; retry later",
                             retryAfter: configuration.retryAfterSeconds)
        }
    }
}

extension SyncAck: ResponseEncodable {}
