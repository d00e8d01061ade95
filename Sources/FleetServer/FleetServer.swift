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
    /// Builds the whole server. Running it (`run()` or as a service) starts its
    /// PostgreSQL client, applies migrations, then listens.
    ///
    /// - Parameters:
    ///   - configureRouter: called before the server adds its own middleware and routes,
    ///     so middleware added here wraps every answer (tests inject faults this way).
    ///   - onServerRunning: receives the bound port (useful with port 0).
    public static func makeApplication(
        configuration: FleetServerConfiguration,
        logger: Logger = Logger(label: "fleet-server"),
        configureRouter: (Router<FleetRequestContext>) -> Void = { _ in },
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> Application<RouterResponder<FleetRequestContext>> {
        if let problem = configuration.validationError() { throw ConfigurationError(problem) }
        let client = PostgresClient(configuration: configuration.database, backgroundLogger: logger)
        let store = FleetStore(client: client, logger: logger)
        let router = Router(context: FleetRequestContext.self)
        configureRouter(router)
        router.add(middleware: WireErrorMiddleware())
        Routes(store: store, configuration: configuration,
               gate: AdmissionGate(limit: configuration.maxConcurrentBatches, perDeviceLimit: configuration.maxConcurrentBatchesPerDevice),
               adminGuard: AdminGuard(maxFailures: configuration.adminFailuresAllowed, window: configuration.adminFailureWindow))
            .register(on: router)

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
            services: [client],
            onServerRunning: { await onServerRunning($0.localAddress?.port ?? configuration.port) },
            logger: logger)
        application.beforeServerStarts {
            try await withDeadline(configuration.databaseTimeout * 6) { try await Schema.migrate(client, logger: logger) }
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
/// login limits and connection logs need.
public struct FleetRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address, the key for per-client limits.
    var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}

/// The HTTP endpoints. Each handler checks cheap things first (token, headers, size),
/// then reads and checks the whole body, and only then takes a storage slot and touches
/// the database with it.
struct Routes: Sendable {
    let store: FleetStore
    let configuration: FleetServerConfiguration
    let gate: AdmissionGate
    let adminGuard: AdminGuard

    static let maxReadLimit = 10_000

    func register(on router: Router<FleetRequestContext>) {
        router.post(RouterPath(WireProtocol.batchPath)) { request, context in try await postBatch(request, context: context) }
        router.get("/v1/devices") { request, context in
            try requireAdmin(request, context: context)
            return JSONAnswer.response(try await database { try await store.devices() })
        }
        router.get("/v1/devices/:name/readings") { request, context in
            try requireAdmin(request, context: context)
            let device = try await namedDevice(context)
            let query = request.uri.queryParameters
            let readings = try await database {
                try await store.readings(of: device, sensor: query.get("sensor"), fromMillis: try millis(query, "from"),
                                         toMillis: try millis(query, "to"), limit: try limit(query))
            }
            return JSONAnswer.response(readings)
        }
        router.get("/v1/devices/:name/events") { request, context in
            try requireAdmin(request, context: context)
            let device = try await namedDevice(context)
            let query = request.uri.queryParameters
            let events = try await database {
                try await store.events(of: device, fromMillis: try millis(query, "from"), toMillis: try millis(query, "to"),
                                       limit: try limit(query))
            }
            return JSONAnswer.response(events)
        }
        router.get("/healthz") { _, _ in
            try await database { try await store.ping() }
            return JSONAnswer.response(["status": "ok"])
        }
    }

    // MARK: Batches

    func postBatch(_ request: Request, context: FleetRequestContext) async throws -> Response {
        guard let token = DeviceToken.bearer(request.headers[.authorization]) else {
            throw FleetError(.unauthorized, "unauthorized", "no bearer token; send Authorization: Bearer <device token>")
        }
        guard let device = try await database({ try await store.device(withToken: TokenHash(of: token)) }) else {
            throw FleetError(.unauthorized, "unauthorized",
                             "the token is not registered; register the device with `fleet-server devices add NAME` and install its token")
        }
        guard request.headers[.contentEncoding]?.lowercased() == "gzip" else {
            throw FleetError(.unsupportedMediaType, "unsupported_encoding", "batches must be sent with Content-Encoding: gzip")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maxBodyBytes {
            throw tooLarge(length)
        }
        let body = try await collect(request.body)
        let batch = try decode(body)
        guard batch.deviceID == device.name else {
            throw FleetError(.forbidden, "forbidden", "token belongs to device \(device.name), batch claims \(batch.deviceID)")
        }
        let rows = (batch.readings?.count ?? 0) + (batch.events?.events.count ?? 0)
        guard rows <= configuration.maxBatchRows else {
            throw FleetError(.contentTooLarge, "too_large",
                             "batch of \(rows) rows exceeds the limit of \(configuration.maxBatchRows) rows; split the batch")
        }
        let admitted = try await gate.run(device: device.id) {
            let timeout = configuration.storeTimeout
            let kept = configuration.healthReportsKept
            let ack = try await storing { starting in
                try await store.store(batch, from: device, statementTimeout: timeout, healthReportsKept: kept, starting: starting)
            }
            context.logger.debug("stored batch", metadata: [
                "device": "\(device.name)",
                "readings": "\(ack.readings.map { "\($0.inserted)+\($0.duplicates)dup" } ?? "-")",
                "events": "\(ack.events.map { "\($0.inserted)+\($0.duplicates)dup" } ?? "-")",
            ])
            return ack
        }
        switch admitted {
        case .success(let ack):
            return JSONAnswer.response(ack)
        case .failure(.full):
            throw FleetError(.serviceUnavailable, "overloaded",
                             "the server is storing \(gate.limit) batches already; retry later", retryAfter: configuration.retryAfterSeconds)
        case .failure(.deviceBusy):
            throw FleetError(.serviceUnavailable, "overloaded",
                             "device \(device.name) has \(gate.perDeviceLimit) batches being stored already; retry later",
                             retryAfter: configuration.retryAfterSeconds)
        }
    }

    /// The batch in `body`, or 400 with the decoder's reason.
    private func decode(_ body: [UInt8]) throws(FleetError) -> SyncBatch {
        do {
            return try WireCodec.decodeBatch(gzipped: body, inflateLimit: configuration.maxInflatedBytes)
        } catch {
            throw FleetError(.badRequest, "malformed", error.description)
        }
    }

    /// Reads the body while counting (a chunked body has no Content-Length to check), and
    /// within `bodyTimeout`, so a slow or stalled upload ends with 408 instead of holding
    /// the connection open for as long as the client likes.
    private func collect(_ body: RequestBody) async throws -> [UInt8] {
        let limit = configuration.maxBodyBytes
        let read = try await withThrowingTaskGroup(of: Result<[UInt8], FleetError>?.self) { group in
            group.addTask {
                var bytes: [UInt8] = []
                for try await part in body {
                    guard bytes.count + part.readableBytes <= limit else { return .failure(tooLarge(bytes.count + part.readableBytes)) }
                    bytes.append(contentsOf: part.readableBytesView)
                }
                return .success(bytes)
            }
            group.addTask {
                try await Task.sleep(for: configuration.bodyTimeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        guard let read else {
            throw FleetError(.requestTimeout, "body_timeout",
                             "the body did not arrive within \(configuration.bodyTimeout.secondsText) s; retry, or send smaller batches")
        }
        return try read.get()
    }

    private func tooLarge(_ size: Int) -> FleetError {
        FleetError(.contentTooLarge, "too_large",
                   "body of \(size) bytes exceeds the limit of \(configuration.maxBodyBytes) bytes; split the batch")
    }

    // MARK: Database failures

    /// Runs a read with the configured deadline; an unreachable PostgreSQL becomes 503 with
    /// `Retry-After`, an error PostgreSQL itself raised becomes 500.
    func database<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withDeadline(configuration.databaseTimeout, operation)
        } catch let error as FleetError {
            throw error
        } catch {
            if let sqlState = Self.sqlState(of: error), !["08", "53", "57"].contains(String(sqlState.prefix(2))) {
                store.logger.error("PostgreSQL rejected a statement", metadata: ["sqlstate": "\(sqlState)", "error": "\(String(reflecting: error))"])
                throw FleetError(.internalServerError, "internal", "the database rejected the operation (SQLSTATE \(sqlState))")
            }
            store.logger.warning("PostgreSQL unavailable", metadata: ["error": "\(error)"])
            throw FleetError(.serviceUnavailable, "database_unavailable", "the database is unavailable; retry later",
                             retryAfter: configuration.retryAfterSeconds)
        }
    }

    /// Runs a batch's transaction. It must get a connection within `databaseTimeout`;
    /// once it writes, the server waits for PostgreSQL's own answer (`storeTimeout`, as
    /// `statement_timeout`, bounds it), so every answer says what happened to the batch:
    /// stored (200), not stored (503 with the reason; 400 when PostgreSQL refused the
    /// batch's own data), or unknown because the connection broke during COMMIT (503 that
    /// says so: resending is safe, rows the server already holds count as duplicates).
    func storing<T: Sendable>(_ operation: @escaping @Sendable (_ starting: @Sendable () throws -> Void) async throws -> T) async throws -> T {
        let retryAfter = configuration.retryAfterSeconds
        do {
            return try await withStartDeadline(configuration.databaseTimeout, operation)
        } catch is DatabaseTimeout {
            store.logger.warning("no PostgreSQL connection for a batch in time", metadata: ["timeout": "\(configuration.databaseTimeout)"])
            throw FleetError(.serviceUnavailable, "database_unavailable",
                             "no database connection within \(configuration.databaseTimeout.secondsText) s; nothing was stored; retry later",
                             retryAfter: retryAfter)
        } catch {
            let sqlState = Self.sqlState(of: error)
            if let transaction = error as? PostgresTransactionError, let commitError = transaction.commitError,
               Self.sqlState(of: commitError) == nil {
                store.logger.error("connection lost while committing a batch", metadata: ["error": "\(String(reflecting: commitError))"])
                throw FleetError(.serviceUnavailable, "commit_unknown",
                                 "the database connection broke while committing; the batch may be stored; send it again (rows already stored count as duplicates)",
                                 retryAfter: retryAfter)
            }
            switch sqlState {
            case "57014"?:
                store.logger.warning("storing a batch exceeded the store timeout", metadata: ["timeout": "\(configuration.storeTimeout)"])
                throw FleetError(.serviceUnavailable, "database_timeout",
                                 "storing the batch took longer than \(configuration.storeTimeout.secondsText) s and was rolled back; nothing was stored; retry later",
                                 retryAfter: retryAfter)
            case let state? where state.hasPrefix("22"):
                // Data exceptions come from the batch's values; the checks before SQL should
                // have refused them, and a retry would fail alike.
                store.logger.error("PostgreSQL refused a batch's data", metadata: ["sqlstate": "\(state)", "error": "\(String(reflecting: error))"])
                throw FleetError(.badRequest, "malformed", "the database refused the batch's data (SQLSTATE \(state)); nothing was stored")
            case let state? where !["08", "53", "57"].contains(String(state.prefix(2))):
                store.logger.error("PostgreSQL rejected a batch", metadata: ["sqlstate": "\(state)", "error": "\(String(reflecting: error))"])
                throw FleetError(.internalServerError, "internal", "the database rejected the operation (SQLSTATE \(state)); nothing was stored")
            default:
                store.logger.warning("PostgreSQL unavailable while storing a batch", metadata: ["error": "\(error)"])
                throw FleetError(.serviceUnavailable, "database_unavailable", "the database is unavailable; nothing was stored; retry later",
                                 retryAfter: retryAfter)
            }
        }
    }

    /// The SQLSTATE of an error PostgreSQL sent, looking inside transaction errors.
    static func sqlState(of error: any Error) -> String? {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] }
        if let error = error as? PostgresTransactionError {
            for inner in [error.closureError, error.beginError, error.commitError].compactMap({ $0 }) {
                if let state = sqlState(of: inner) { return state }
            }
        }
        return nil
    }

    // MARK: Read API

    /// Checks the admin token. Failures are logged with the client's address (never the
    /// token) and counted per address; past `adminFailuresAllowed` in a window the address
    /// gets 429 without its token being looked at.
    private func requireAdmin(_ request: Request, context: FleetRequestContext) throws {
        guard let expected = configuration.adminTokenHash else {
            throw FleetError(.forbidden, "forbidden", "the read API is off; start the server with --admin-token-file")
        }
        let address = context.clientAddress
        if let wait = adminGuard.retryAfter(address) {
            throw FleetError(.tooManyRequests, "too_many_attempts",
                             "too many failed admin logins from \(address); retry in \(wait) s", retryAfter: wait)
        }
        guard let token = DeviceToken.bearer(request.headers[.authorization]), TokenHash(of: token).matches(expected) else {
            let failures = adminGuard.recordFailure(address)
            context.logger.warning("admin authentication failed", metadata: [
                "client": "\(address)", "path": "\(request.uri.path)", "failures": "\(failures)",
                "token": "\(request.headers[.authorization] == nil ? "none" : "wrong")",
            ])
            throw FleetError(.unauthorized, "unauthorized", "the read API needs Authorization: Bearer <admin token>")
        }
    }

    private func namedDevice(_ context: FleetRequestContext) async throws -> Device {
        let name = context.parameters.get("name") ?? ""
        guard let device = try await database({ try await store.device(named: name) }) else {
            throw FleetError(.notFound, "not_found", "no device named \"\(name)\"")
        }
        return device
    }

    private func millis(_ query: Parameters, _ name: String) throws -> Int64? {
        guard let text = query.get(name) else { return nil }
        guard let value = Int64(text) else {
            throw FleetError(.badRequest, "bad_query", "\(name)=\(text) is not a Unix time in milliseconds")
        }
        return value
    }

    private func limit(_ query: Parameters) throws -> Int {
        guard let text = query.get("limit") else { return 1000 }
        guard let value = Int(text), (1...Self.maxReadLimit).contains(value) else {
            throw FleetError(.badRequest, "bad_query", "limit=\(text) is not a number from 1 to \(Self.maxReadLimit)")
        }
        return value
    }
}
