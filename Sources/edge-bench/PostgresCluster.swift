#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A throwaway PostgreSQL cluster in a temporary directory on a free port, with trust
/// authentication on 127.0.0.1 (the pattern of the sync tests' harness). Started as the
/// `postgres` user when running as root, since PostgreSQL refuses to run as root.
final class PostgresCluster {
    let directory: String
    let port: Int
    let user = "bench"
    private let runAs: String

    init() throws {
        directory = "/tmp/edge-bench-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = try Self.freePort()
        runAs = getuid() == 0 ? "runuser -u postgres -- " : ""
        if getuid() == 0 { try shell("chown postgres '\(directory)'") }
        try shell("""
            set -e
            \(runAs)initdb -D '\(directory)/data' -U \(user) -A trust -E UTF8 --no-sync >/dev/null
            \(runAs)pg_ctl -D '\(directory)/data' -l '\(directory)/log' -w \
              -o "-p \(port) -k '\(directory)' -c listen_addresses=127.0.0.1" start >/dev/null
            """)
    }

    deinit {
        _ = try? shell("\(runAs)pg_ctl -D '\(directory)/data' -m immediate stop >/dev/null")
        try? FileManager.default.removeItem(atPath: directory)
    }

    var url: String { "postgres://\(user)@127.0.0.1:\(port)/postgres" }

    /// Runs SQL (or a psql meta-command such as `\copy`) through psql; returns its unaligned output.
    @discardableResult
    func psql(_ command: String) throws -> String {
        let quoted = command.replacingOccurrences(of: "'", with: "'\\''")
        return try shell("psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p \(port) -U \(user) -d postgres -c '\(quoted)'")
    }

    /// Asks the kernel for a port nobody listens on.
    private static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw BenchError("socket() failed: errno \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw BenchError("bind() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
