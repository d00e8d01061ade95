import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The services notifications go to, as real servers over real TLS: `scripts/notify-receiver.py`
/// run by Debian's python3 (and python3-aiosmtpd for SMTP), one process per receiver. They
/// record exactly what crossed the wire and answer what the test scripts, so a test asserts
/// the bytes a phone's service would see and the transport's reading of any answer.
///
/// The process is killed when the receiver is stopped or released, and leaves by itself when
/// the test process dies (`--parent`), so a crashed run leaves no server behind.
public final class HTTPSReceiver: Sendable {
    /// One request as the receiver read it.
    public struct Request: Sendable, Hashable {
        public var method: String
        /// The path with its query, e.g. `/bot123:abc/sendMessage`.
        public var path: String
        /// In the order they arrived.
        public var headers: [ReceivedHeader]
        public var body: [UInt8]

        /// The first header named `name`, ignoring case, as HTTP does.
        public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// One scripted answer.
    public struct Answer: Sendable, Hashable, Encodable {
        public var status: Int
        public var headers: [String: String]
        public var body: String
        /// Seconds the receiver waits after reading the request before it answers: a hung service.
        public var delay: Double

        public init(status: Int, headers: [String: String] = [:], body: String = "", delay: Double = 0) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
        }

        enum CodingKeys: String, CodingKey { case status, headers, body, delay = "delay_s" }
    }

    private let process: ReceiverProcess
    public let port: Int
    /// `https://127.0.0.1:PORT`; the certificate is valid for 127.0.0.1 and localhost.
    public var url: String { "https://127.0.0.1:\(port)" }
    /// The CA that signed the receiver's certificate: a target's `caFile`.
    public let caFile: String

    /// - Parameter port: 0 for any free port; a stopped receiver's port to bring "the
    ///   service" back where a target already points.
    public static func start(certificates: TestCertificates, port: Int = 0) async throws -> HTTPSReceiver {
        let process = try await ReceiverProcess.start(mode: "https", certificates: certificates, port: port, arguments: [])
        return HTTPSReceiver(process: process, caFile: certificates.ca)
    }

    private init(process: ReceiverProcess, caFile: String) {
        self.process = process
        self.port = process.port
        self.caFile = caFile
    }

    /// Every request received so far, oldest first.
    public func requests() throws -> [Request] {
        try process.records(RecordedRequest.self).map {
            Request(method: $0.method, path: $0.path, headers: $0.headers.map { ReceivedHeader(name: $0[0], value: $0[1]) },
                    body: [UInt8](Data(base64Encoded: $0.body) ?? Data()))
        }
    }

    /// The requests once there are at least `count` of them: for a daemon that delivers on its
    /// own schedule. Throws `ReceiverTimeout` with what did arrive when `within` runs out.
    public func requests(atLeast count: Int, within limit: Duration = .seconds(20)) async throws -> [Request] {
        try await waitFor(count, within: limit, what: "requests") { try requests() }
    }

    /// The answers to the next requests, in order; the last one repeats. Replaces any earlier
    /// script and starts from its first answer, even when it is the same script again.
    /// Without one every request is answered 200 "ok".
    public func script(_ answers: [Answer]) throws { try process.script(answers) }

    public func stop() { process.stop() }

    private struct RecordedRequest: Decodable {
        var method: String
        var path: String
        var headers: [[String]]
        var body: String
    }
}

/// An SMTP server that requires STARTTLS (or speaks TLS from the start, or, for the refusal
/// test, offers no TLS at all) and, when given a user, AUTH with that user and password.
public final class SMTPReceiver: Sendable {
    public enum Security: String, Sendable {
        /// `smtp://`: every command but EHLO, NOOP and QUIT is refused before STARTTLS.
        case starttls
        /// `smtps://`: TLS from the first byte.
        case implicit
        /// A plain server without STARTTLS, which a client must refuse to send to.
        case none
    }

    /// One message as the server took it, with the reply it gave to DATA.
    public struct Message: Sendable, Hashable {
        public var mailFrom: String
        public var recipients: [String]
        /// The message as received after DATA (CRLF line ends).
        public var data: [UInt8]
        /// Whether the session was encrypted when the message was sent.
        public var tls: Bool
        /// The user the session authenticated as, if any.
        public var login: String?
        public var reply: String

        /// The header section, unfolded, in order.
        public var headers: [ReceivedHeader] {
            var result: [ReceivedHeader] = []
            for line in text.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n") {
                if line.first == " " || line.first == "\t", !result.isEmpty {
                    result[result.count - 1].value += line
                } else if let colon = line.firstIndex(of: ":") {
                    result.append(ReceivedHeader(name: String(line[..<colon]),
                                                 value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
                }
            }
            return result
        }

        public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }

        /// The body after the header section, decoded when its transfer encoding is base64.
        public var body: String {
            let parts = text.components(separatedBy: "\r\n\r\n")
            let raw = parts.dropFirst().joined(separator: "\r\n\r\n")
            guard header("Content-Transfer-Encoding")?.lowercased() == "base64" else { return raw }
            let decoded = Data(base64Encoded: raw, options: .ignoreUnknownCharacters) ?? Data()
            return String(decoding: decoded, as: UTF8.self)
        }

        public var text: String { String(decoding: data, as: UTF8.self) }
    }

    private let process: ReceiverProcess
    public let port: Int
    public let security: Security
    /// `smtp://127.0.0.1:PORT`, or `smtps://` for implicit TLS.
    public var url: String { "\(security == .implicit ? "smtps" : "smtp")://127.0.0.1:\(port)" }
    public let caFile: String

    /// - Parameters:
    ///   - user, password: AUTH is required and only these are accepted; nil accepts mail
    ///     without AUTH.
    ///   - port: 0 for any free port; a stopped receiver's port to bring the server back.
    public static func start(certificates: TestCertificates, security: Security = .starttls,
                             user: String? = nil, password: String? = nil, port: Int = 0) async throws -> SMTPReceiver {
        var arguments = ["--tls", security.rawValue]
        if let user { arguments += ["--user", user, "--password", password ?? ""] }
        let process = try await ReceiverProcess.start(mode: "smtp", certificates: certificates, port: port, arguments: arguments)
        return SMTPReceiver(process: process, security: security, caFile: certificates.ca)
    }

    private init(process: ReceiverProcess, security: Security, caFile: String) {
        self.process = process
        self.port = process.port
        self.security = security
        self.caFile = caFile
    }

    /// Every message that reached DATA so far, oldest first, accepted or not (see `reply`).
    public func messages() throws -> [Message] {
        try process.records(RecordedMessage.self).map {
            Message(mailFrom: $0.mail_from, recipients: $0.rcpt_tos, data: [UInt8](Data(base64Encoded: $0.data) ?? Data()),
                    tls: $0.tls, login: $0.login, reply: $0.reply)
        }
    }

    /// The messages once there are at least `count` of them (see `HTTPSReceiver.requests(atLeast:within:)`).
    public func messages(atLeast count: Int, within limit: Duration = .seconds(20)) async throws -> [Message] {
        try await waitFor(count, within: limit, what: "messages") { try messages() }
    }

    /// The replies to the next DATA commands, e.g. `["451 4.3.0 try again", "250 OK"]`; the
    /// last one repeats. Without a script every message is accepted with "250 OK".
    public func script(_ replies: [String]) throws { try process.script(replies) }

    public func stop() { process.stop() }

    private struct RecordedMessage: Decodable {
        var mail_from: String
        var rcpt_tos: [String]
        var data: String
        var tls: Bool
        var login: String?
        var reply: String
    }
}

/// A receiver got fewer requests or messages than a test waited for.
public struct ReceiverTimeout: Error, CustomStringConvertible {
    public var description: String
}

/// Polls `read` until it has `count` items or `limit` runs out.
private func waitFor<T>(_ count: Int, within limit: Duration, what: String, _ read: () throws -> [T]) async throws -> [T] {
    let deadline = ContinuousClock.now + limit
    while true {
        let items = try read()
        if items.count >= count { return items }
        guard ContinuousClock.now < deadline else {
            throw ReceiverTimeout(description: "expected at least \(count) \(what) within \(limit), got \(items.count)")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// A header as a receiver saw it: the name keeps its spelling, lookups ignore case.
public struct ReceivedHeader: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: String
    public var description: String { "\(name): \(value)" }
}

/// One running `notify-receiver.py`: spawned with posix_spawn (Foundation's Process would wait
/// on inherited descriptors, see `Processes.run`), ready once it prints its port.
private final class ReceiverProcess: Sendable {
    static let script = Built.repository.appendingPathComponent("scripts/notify-receiver.py").path
    static let python = "/usr/bin/python3"

    let port: Int
    private let pid: Mutex<pid_t?>
    private let directory: TemporaryDirectory
    private var recordFile: String { directory.file("records.jsonl") }
    private var scriptFile: String { directory.file("script.json") }

    private init(pid: pid_t, port: Int, directory: TemporaryDirectory) {
        self.pid = Mutex(pid)
        self.port = port
        self.directory = directory
    }

    deinit { stop() }

    static func start(mode: String, certificates: TestCertificates, port: Int, arguments: [String]) async throws -> ReceiverProcess {
        let directory = try TemporaryDirectory("notify-receiver")
        let out = directory.file("stdout"), err = directory.file("stderr")
        let command = [python, script, mode, "--cert", certificates.serverCertificate, "--key", certificates.serverKey,
                       "--record", directory.file("records.jsonl"), "--script", directory.file("script.json"),
                       "--port", String(port), "--parent", String(getpid())] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        let env = ["PATH=/usr/bin:/bin", "PYTHONUNBUFFERED=1"]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, python, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw Processes.Failure(command: command.joined(separator: " "), status: -1, output: String(cString: strerror(spawned)))
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let printed = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            if let line = printed.split(separator: "\n").first(where: { $0.hasPrefix("port ") }), let port = Int(line.dropFirst(5)) {
                return ReceiverProcess(pid: child, port: port, directory: directory)
            }
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
                throw Processes.Failure(command: command.joined(separator: " "), status: status, output: stderr
                                        + "\n(is python3-aiosmtpd installed? scripts/install-packages.sh installs it)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(child, SIGKILL)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        throw Processes.Failure(command: command.joined(separator: " "), status: -1, output: "no port printed within 20 s")
    }

    func records<T: Decodable>(_ type: T.Type) throws -> [T] {
        let text = try String(contentsOfFile: recordFile, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }

    /// Written whole and renamed into place, so the receiver never reads half a script.
    func script(_ answers: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let staging = scriptFile + ".new"
        try encoder.encode(answers).write(to: URL(fileURLWithPath: staging))
        guard rename(staging, scriptFile) == 0 else { throw POSIXError(.EIO) }
    }

    func stop() {
        guard let child = pid.withLock({ pid in defer { pid = nil }; return pid }) else { return }
        kill(child, SIGKILL)
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    }
}
