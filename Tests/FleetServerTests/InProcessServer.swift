import FleetServer
import FleetServerTesting
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import Wire

/// `FleetRoutes` on a `MemoryFleetStore`, driven through Hummingbird's router test client:
/// the HTTP rules without a socket, TLS or PostgreSQL. One device, `reef-1`, is registered.
struct InProcessServer: Sendable {
    static let adminToken = "admin-token-for-tests-0123456789"
    /// Header naming the client address a request comes from (there is no socket); without
    /// it a request comes from 127.0.0.1.
    static let clientAddressHeader = HTTPField.Name("X-Test-Client-Address")!

    let store = MemoryFleetStore()
    let deviceToken: String
    /// What the routes logged at warning and above.
    let log = LogRecorder()
    let configuration: FleetServerConfiguration

    init(configure: (inout FleetServerConfiguration) -> Void = { _ in }) {
        var configuration = FleetServerConfiguration(
            tls: nil, database: .init(host: "unused", username: "unused", password: nil, database: nil, tls: .disable),
            databaseTimeout: .seconds(2), adminTokenHash: TokenHash(of: Self.adminToken))
        configure(&configuration)
        self.configuration = configuration
        deviceToken = store.addDevice("reef-1")
    }

    /// Runs `body` with a client whose requests go straight to the router.
    static func with(configure: (inout FleetServerConfiguration) -> Void = { _ in },
                     _ body: @Sendable (InProcessServer, any TestClientProtocol) async throws -> Void) async throws {
        let server = InProcessServer(configure: configure)
        let recorder = server.log
        var logger = Logger(label: "fleet-server-in-process") { _ in recorder.handler() }
        logger.logLevel = .warning
        let router = Router(context: FleetRequestContext.self)
        router.add(middleware: ClientAddressFromHeader())
        FleetRoutes(store: server.store, configuration: server.configuration).register(on: router)
        try await Application(router: router, logger: logger).test(.router) { client in try await body(server, client) }
    }

    /// Posts `batch` as `token`'s device and returns once its store is held inside its
    /// transaction, holding a storage slot until `store.release()`.
    func postHeld(_ batch: SyncBatch = SampleBatches.batch(), token: String? = nil,
                  through client: any TestClientProtocol) async throws -> Task<TestResponse, any Error> {
        let already = store.heldStores
        store.hold()
        let token = token ?? deviceToken
        let post = Task { try await client.post(batch, token: token) }
        try await store.waitForHeldStores(already + 1)
        return post
    }
}

/// Sets the request's client address from `InProcessServer.clientAddressHeader`.
private struct ClientAddressFromHeader: RouterMiddleware {
    func handle(_ request: Request, context: FleetRequestContext,
                next: (Request, FleetRequestContext) async throws -> Response) async throws -> Response {
        var context = context
        context.remoteAddress = try SocketAddress(ipAddress: request.headers[InProcessServer.clientAddressHeader] ?? "127.0.0.1", port: 0)
        return try await next(request, context)
    }
}

extension TestClientProtocol {
    /// Posts a batch the way a device does: gzip body, bearer token.
    func post(_ batch: SyncBatch, token: String?) async throws -> TestResponse {
        try await postBody(try WireCodec.encode(batch), token: token)
    }

    func postBody(_ body: [UInt8], token: String?, encoding: String? = "gzip") async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: WireProtocol.contentType]
        if let encoding { headers[.contentEncoding] = encoding }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await execute(uri: WireProtocol.batchPath, method: .post, headers: headers, body: ByteBuffer(bytes: body))
    }

    func get(_ uri: String, token: String? = nil, from address: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let address { headers[InProcessServer.clientAddressHeader] = address }
        return try await execute(uri: uri, method: .get, headers: headers)
    }
}

extension TestResponse {
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: Data(body.readableBytesView))
    }

    var wireError: WireError? { try? decode(WireError.self) }
    var text: String { String(buffer: body) }
}
