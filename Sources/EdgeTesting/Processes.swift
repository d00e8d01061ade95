import Foundation
import Synchronization

/// Runs command-line tools for the test harnesses (initdb, pg_ctl, openssl, curl, the built
/// binaries) without blocking a thread of the cooperative pool, and fails with the tool's own
/// output when it fails. `Command.run` is the synchronous form for quick CLI calls.
public enum Processes {
    public struct Failure: Error, CustomStringConvertible {
        public var command: String
        public var status: Int32
        public var output: String
        public var description: String { "`\(command)` exited with \(status):\n\(output)" }

        public init(command: String, status: Int32, output: String) {
            self.command = command
            self.status = status
            self.output = output
        }
    }

    /// Runs `executable` and returns its standard output. As root, `user` switches to
    /// that account through runuser (PostgreSQL refuses to run as root).
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], as user: String? = nil,
                    environment: [String: String]? = nil) async throws -> String {
        var command = [executable] + arguments
        if let user, geteuid() == 0 { command = ["/usr/sbin/runuser", "-u", user, "--"] + command }
        // posix_spawn and waitpid, not Foundation's Process: on Linux, Process decides a child
        // has exited when a descriptor it hands the child closes, and the daemon that
        // `pg_ctl start` leaves behind inherits it, so Process would wait for PostgreSQL to stop.
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)")
        let outURL = base.appendingPathExtension("out"), errURL = base.appendingPathExtension("err")
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        let spawned = posix_spawn(&pid, command[0], &actions, nil, argv, envp)
        guard spawned == 0 else { throw Failure(command: command.joined(separator: " "), status: -1, output: String(cString: strerror(spawned))) }
        let child = pid
        let status: Int32 = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var raw: Int32 = 0
                while waitpid(child, &raw, 0) < 0 && errno == EINTR {}
                let exited = raw & 0x7f == 0
                continuation.resume(returning: exited ? (raw >> 8) & 0xff : 128 + (raw & 0x7f))
            }
        }
        let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw Failure(command: command.joined(separator: " "), status: status, output: stderr + stdout)
        }
        return stdout
    }

    /// Ports `freePort` hands out: below Linux's ephemeral range (32768–60999), so neither an
    /// outgoing connection nor another `bind` to port 0 can take a server's port while the
    /// test has it stopped (ServerHarness's outage); each process starts at its own offset
    /// and never hands out a port twice until it has gone round the range.
    static let portRange = 20_000..<32_768
    private static let nextPort = Mutex(portRange.lowerBound + Int(getpid()) * 97 % portRange.count)

    /// A TCP port on 127.0.0.1 that nobody listens on now and that this process has not handed
    /// out recently.
    public static func freePort() throws -> Int {
        for _ in 0..<portRange.count {
            let port = nextPort.withLock { next in
                defer { next = next + 1 == portRange.upperBound ? portRange.lowerBound : next + 1 }
                return next
            }
            if canBind(port) { return port }
        }
        throw POSIXError(.EADDRINUSE)
    }

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
