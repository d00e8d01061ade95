import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import NIOTLS
import Synchronization

/// How long and how many connections the server keeps, so sockets that do nothing (or
/// drip bytes) cannot exhaust file descriptors and take `/healthz` and every device down.
public struct ConnectionLimits: Sendable {
    /// A TLS handshake must finish within this after the connection opens.
    public var handshakeTimeout: Duration
    /// A connection with no complete request head (or body part) for this long is closed:
    /// the idle keep-alive limit and the header-read limit at once, because Hummingbird
    /// counts activity in whole HTTP parts, so a head dripped byte by byte does not count.
    public var idleTimeout: Duration
    /// Open connections in total; beyond it the server stops accepting (the kernel's
    /// backlog holds new ones) until one closes.
    public var maxConnections: Int
    /// Open connections from one client address; more are closed as soon as they open.
    public var maxConnectionsPerAddress: Int

    public init(handshakeTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(30), maxConnections: Int = 512,
                maxConnectionsPerAddress: Int = 128) {
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
    }
}

/// Open connections per client address.
final class ConnectionsByAddress: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection from `address`; `false` (and nothing counted) if that
    /// address is at the limit.
    func open(_ address: String) -> Bool {
        counts.withLock { counts in
            let current = counts[address, default: 0]
            guard current < limit else { return false }
            counts[address] = current + 1
            return true
        }
    }

    func close(_ address: String) {
        counts.withLock { counts in
            let left = counts[address, default: 1] - 1
            counts[address] = left > 0 ? left : nil
        }
    }
}

/// The server's connection setup: the per-address cap, then TLS with a handshake
/// deadline (unless the server runs plain HTTP behind a proxy), then Hummingbird's HTTP/1.1
/// with its idle timeout.
struct FleetChildChannel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let http: HTTP1Channel
    let sslContext: NIOSSLContext?
    let handshakeTimeout: Duration
    let byAddress: ConnectionsByAddress

    struct TooManyConnections: Error {}

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        guard byAddress.open(address) else {
            logger.warning("refused a connection: too many open from one address", metadata: [
                "address": "\(address)", "limit": "\(byAddress.limit)",
            ])
            return channel.close().flatMapThrowing { _ -> Value in throw TooManyConnections() }
        }
        let byAddress = self.byAddress
        channel.closeFuture.whenComplete { _ in byAddress.close(address) }
        return channel.eventLoop.makeCompletedFuture {
            if let sslContext {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                try channel.pipeline.syncOperations.addHandler(HandshakeDeadline(timeout: TimeAmount(handshakeTimeout)))
            }
        }.flatMap {
            http.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await http.handle(value: value, logger: logger)
    }
}

/// Closes a connection whose TLS handshake has not finished in time: without it, a client
/// that connects and sends nothing holds the socket until the idle timeout.
final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            loopBound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            timer?.cancel()
            timer = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }
}
