import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
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
        configureRouter: (Router<BasicRequestContext>) -> Void = { _ in },
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> Application<RouterResponder<BasicRequestContext>> {
        let client = PostgresClient(configuration: configuration.database, backgroundLogger: logger)
        let store = FleetStore(client: client, logger: logger)
        let router = Router(context: BasicRequestContext.self)
        configureRouter(router)
        router.add(middleware: WireErrorMiddleware())
        Routes(store: store, configuration: configuration, gate: AdmissionGate(limit: configuration.maxConcurrentBatches))
            .register(on: router)

        let server: HTTPServerBuilder = if let tls = configuration.tls {
            try .tls(.http1(), tlsConfiguration: try tlsConfiguration(tls))
        } else {
            .http1()
        }
        var application = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "reef-fleet"),
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

/// The HTTP endpoints. Each handler checks cheap things first (token, headers, size) and
/// touches the body and the database last.
struct Routes: Sendable {
    let store: FleetStore
    let configuration: FleetServerConfiguration
    let gate: AdmissionGate

    static let maxReadLimit = 10_000

    func register(on router: Router<BasicRequestContext>) {
        router.post(RouterPath(WireProtocol.batchPath)) { request, context in try await postBatch(request, context: context) }
        router.get("/v1/devices") { request, _ in
            try requireAdmin(request)
            return JSONAnswer.response(try await database { try await store.devices() })
        }
        router.get("/v1/devices/:name/readings") { request, context in
            try requireAdmin(request)
            let device = try await namedDevice(context)
            let query = request.uri.queryParameters
            let readings = try await database {
                try await store.readings(of: device, sensor: query.get("sensor"), fromMillis: try millis(query, "from"),
                                         toMillis: try millis(query, "to"), limit: try limit(query))
            }
            return JSONAnswer.response(readings)
        }
        router.get("/v1/devices/:name/events") { request, context in
            try requireAdmin(request)
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

    func postBatch(_ request: Request, context: BasicRequestContext) async throws -> Response {
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
        let answer = try await gate.run {
            let body = try await collect(request.body)
            let batch: SyncBatch
            do {
                batch = try WireCodec.decodeBatch(gzipped: body, inflateLimit: configuration.maxInflatedBytes)
            } catch let failure as WireCodec.DecodeFailure {
                throw FleetError(.badRequest, "malformed", failure.description)
            }
            guard batch.deviceID == device.name else {
                throw FleetError(.forbidden, "forbidden", "token belongs to device \(device.name), batch claims \(batch.deviceID)")
            }
            let ack = try await database { try await store.store(batch, from: device) }
            context.logger.debug("stored batch from \(device.name)", metadata: [
                "readings": "\(ack.readings.map { "\($0.inserted)+\($0.duplicates)dup" } ?? "-")",
                "events": "\(ack.events.map { "\($0.inserted)+\($0.duplicates)dup" } ?? "-")",
            ])
            return ack
        }
        guard let answer else {
            throw FleetError(.serviceUnavailable, "overloaded",
                             "the server is storing \(gate.limit) batches already; retry later", retryAfter: configuration.retryAfterSeconds)
        }
        return JSONAnswer.response(answer)
    }

    /// Reads the body while counting, because a chunked body has no Content-Length to check.
    private func collect(_ body: RequestBody) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await part in body {
            guard bytes.count + part.readableBytes <= configuration.maxBodyBytes else {
                throw tooLarge(bytes.count + part.readableBytes)
            }
            bytes.append(contentsOf: part.readableBytesView)
        }
        return bytes
    }

    private func tooLarge(_ size: Int) -> FleetError {
        FleetError(.contentTooLarge, "too_large",
                   "body of \(size) bytes exceeds the limit of \(configuration.maxBodyBytes) bytes; split the batch")
    }

    // MARK: Database failures

    /// Runs a database operation with the configured deadline; an unreachable PostgreSQL
    /// becomes 503 with `Retry-After`, an error PostgreSQL itself raised becomes 500.
    func database<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withDeadline(configuration.databaseTimeout, operation)
        } catch let error as FleetError {
            throw error
        } catch {
            if let sqlState = Self.sqlState(of: error), !["08", "53", "57"].contains(String(sqlState.prefix(2))) {
                store.logger.error("PostgreSQL rejected a statement (SQLSTATE \(sqlState)): \(String(reflecting: error))")
                throw FleetError(.internalServerError, "internal", "the database rejected the operation (SQLSTATE \(sqlState))")
            }
            store.logger.warning("PostgreSQL unavailable: \(error)")
            throw FleetError(.serviceUnavailable, "database_unavailable", "the database is unavailable; retry later",
                             retryAfter: configuration.retryAfterSeconds)
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

    private func requireAdmin(_ request: Request) throws {
        guard let expected = configuration.adminTokenHash else {
            throw FleetError(.forbidden, "forbidden", "the read API is off; start the server with --admin-token-file")
        }
        guard let token = DeviceToken.bearer(request.headers[.authorization]), TokenHash(of: token).matches(expected) else {
            throw FleetError(.unauthorized, "unauthorized", "the read API needs Authorization: Bearer <admin token>")
        }
    }

    private func namedDevice(_ context: BasicRequestContext) async throws -> Device {
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
