import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A TCP listener on 127.0.0.1 that accepts connections, reads whatever arrives and never
/// answers: to a client, a TLS handshake that stalls, or (over plain HTTP) a server whose
/// answer hangs. Counts what it was sent, so a test can tell "never connected" from "stalled".
public final class SilentListener: Sendable {
    public let port: Int
    private let socket: Int32
    private let counts = Mutex<(connections: Int, bytes: Int)>((0, 0))

    public init() throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        socket = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptForever(fd) }
    }

    private func acceptForever(_ listening: Int32) {
        while true {
            let client = accept(listening, nil, nil)
            guard client >= 0 else { return }
            counts.withLock { $0.connections += 1 }
            Thread.detachNewThread { [self] in
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = read(client, &buffer, buffer.count)
                    guard count > 0 else { close(client); return }
                    counts.withLock { $0.bytes += count }
                }
            }
        }
    }

    public var connections: Int { counts.withLock { $0.connections } }
    public var bytes: Int { counts.withLock { $0.bytes } }

    /// Stops accepting; connections already open stay open until their peer leaves.
    public func stop() {
        shutdown(socket, Int32(SHUT_RDWR))
        close(socket)
    }
}
