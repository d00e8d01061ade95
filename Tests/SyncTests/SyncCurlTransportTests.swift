import EdgeCore
import EdgeTesting
import FleetServerTesting
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif
import Wire
@testable import Sync

/// Each request's context knows the client's port: two requests from one port rode one connection.
struct SyncPeerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remotePort: Int?
    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remotePort = source.channel.remoteAddress?.port
    }
}

/// A TLS endpoint for `/v1/batches` that records what arrives and answers with `respond`.
struct SyncEchoServer {
    struct Received: Sendable {
        var headers: [String: String]
        var body: [UInt8]
        var remotePort: Int?
    }

    final class Log: Sendable {
        let entries = Mutex<[Received]>([])
    }

    private let log = Log()
    let port: Int
    let task: Task<Void, any Error>

    init(certificates: TestCertificates, requireClientCertificate: Bool = false,
         respond: @escaping @Sendable (Int, [UInt8]) async -> Response) async throws {
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificates.serverCertificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: certificates.serverKey, format: .pem)))
        if requireClientCertificate {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificates.ca))
        }
        let router = Router(context: SyncPeerContext.self)
        let log = self.log
        router.post(RouterPath(WireProtocol.batchPath)) { request, context -> Response in
            let body = try await request.body.collect(upTo: 16 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let bytes = Array(buffer: body)
            let index = log.entries.withLock { list in
                list.append(Received(headers: headers, body: bytes, remotePort: context.remotePort))
                return list.count
            }
            return await respond(index, bytes)
        }
        let bound = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                bound.continuation.yield(channel.localAddress?.port ?? 0)
                bound.continuation.finish()
            },
            logger: Logger(label: "sync-echo-server"))
        task = Task { try await app.run() }
        var port = 0
        for await value in bound.stream { port = value }
        self.port = port
    }

    var requests: [Received] { log.entries.withLock { $0 } }

    var url: String { "https://127.0.0.1:\(port)" }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

@Suite(.serialized) struct SyncCurlTransportTests {
    let certificates: TestCertificates

    init() async throws {
        certificates = try await TestCertificates.generate()
    }

    private func transport(_ url: String, ca: String? = nil, configure: (inout CurlTransport.Configuration) -> Void = { _ in }) throws -> CurlTransport {
        var configuration = CurlTransport.Configuration(serverURL: url, token: BearerToken("tok-123"), caFile: ca ?? certificates.ca)
        configure(&configuration)
        return try CurlTransport(configuration: configuration)
    }

    @Test func postsTheGzipBodyWithItsHeadersOverOneKeptAliveConnection() async throws {
        let ack = try WireCodec.encode(SyncAck(healthStored: true))
        let server = try await SyncEchoServer(certificates: certificates) { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json", .contentEncoding: "gzip"],
                     body: .init(byteBuffer: ByteBuffer(bytes: ack)))
        }
        let client = try transport(server.url)
        let body = try WireCodec.encode(SyncBatch(deviceID: "reef-1", storeID: "store-1"))
        let first = try await client.post(batch: body)
        let second = try await client.post(batch: body)
        await server.stop()

        #expect(first == TransportResponse(status: 200, body: ack, retryAfter: nil))
        #expect(second.status == 200)
        let requests = server.requests
        #expect(requests.count == 2)
        #expect(requests[0].body == body)
        #expect(requests[0].headers["content-type"] == WireProtocol.contentType)
        #expect(requests[0].headers["content-encoding"] == "gzip")
        #expect(requests[0].headers["authorization"] == "Bearer tok-123")
        #expect(requests[0].remotePort != nil)
        #expect(requests[0].remotePort == requests[1].remotePort)
    }

    @Test func statusBodyAndRetryAfterComeBack() async throws {
        let server = try await SyncEchoServer(certificates: certificates) { _, _ in
            Response(status: .tooManyRequests, headers: [.retryAfter: "7"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"error":"overloaded","reason":"try later"}"#)))
        }
        let response = try await transport(server.url).post(batch: [1, 2, 3])
        await server.stop()
        #expect(response.status == 429)
        #expect(response.retryAfter == "7")
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"error":"overloaded","reason":"try later"}"#)
    }

    @Test func aCertificateFromAnotherCAIsATLSError() async throws {
        let server = try await SyncEchoServer(certificates: certificates) { _, _ in Response(status: .ok) }
        await #expect { try await transport(server.url, ca: certificates.untrustedCA).post(batch: [1]) } throws: { error in
            (error as? TransportError)?.kind == .tls
        }
        await server.stop()
        #expect(server.requests.isEmpty)
    }

    @Test func anAnswerOverTheCapIsRefused() async throws {
        let server = try await SyncEchoServer(certificates: certificates) { _, _ in
            Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: 0x41, count: 200_000)))
        }
        await #expect(throws: TransportError(.responseTooLarge, "answer exceeded 1024 bytes")) {
            try await transport(server.url, configure: { $0.maxResponseBytes = 1024 }).post(batch: [1])
        }
        await server.stop()
    }

    @Test func aSlowServerTimesOut() async throws {
        let server = try await SyncEchoServer(certificates: certificates) { _, _ in
            try? await Task.sleep(for: .seconds(3))
            return Response(status: .ok)
        }
        await #expect { try await transport(server.url, configure: { $0.totalTimeout = .milliseconds(500) }).post(batch: [1]) } throws: { error in
            (error as? TransportError)?.kind == .timeout
        }
        await server.stop()
    }

    @Test func nothingListeningIsANetworkError() async throws {
        // A port held bound but not listening: refused for certain, and no server another
        // test starts meanwhile can take it (a stopped server's port could be reused).
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        #expect(bound)
        let url = "https://127.0.0.1:\(UInt16(bigEndian: address.sin_port))/v1/batches"
        await #expect { try await transport(url).post(batch: [1]) } throws: { error in
            (error as? TransportError)?.kind == .network
        }
    }

    @Test func mutualTLSNeedsTheClientCertificate() async throws {
        let server = try await SyncEchoServer(certificates: certificates, requireClientCertificate: true) { _, _ in Response(status: .ok) }
        let withCertificate = try await transport(server.url, configure: {
            $0.clientCertificate = certificates.clientCertificate
            $0.clientKey = certificates.clientKey
        }).post(batch: [1])
        #expect(withCertificate.status == 200)
        await #expect(throws: TransportError.self) { try await transport(server.url).post(batch: [1]) }
        await server.stop()
        #expect(server.requests.count == 1)
    }
}
