@testable import FleetServer
import EdgeTesting
import FleetServerTesting
import Foundation
import PostgresNIO
import Testing
import Wire

/// The fleet server against hostile clients and slow storage, over real TLS and real
/// PostgreSQL: stalled uploads, idle sockets, deadlines PostgreSQL enforces, wrong database
/// settings. Nothing a client does takes the server (or another device) down. The HTTP
/// rules alone are tested in-process in `FleetServerTests`.
@Suite(.serialized) struct ServerHardeningTests {
    // MARK: Storage

    @Test func healthReportsAreKeptNewestFirstUpToTheLimit() async throws {
        try await ServerHarness.with(configure: { $0.healthReportsKept = 3 }) { server in
            let curl = Curl(caFile: server.certificates.ca)
            for index in 1...5 {
                var batch = SampleBatches.batch(readings: Int64(index)...Int64(index), events: nil)
                batch.health?.takenAtMillis = Int64(index)
                #expect(try await curl.post(batch, to: server.url, token: server.deviceToken).status == 200)
            }
            let rows = try await server.database.query("SELECT taken_at_ms FROM health ORDER BY taken_at_ms")
            var kept: [Int64] = []
            for try await taken in rows.decode(Int64.self) { kept.append(taken) }
            #expect(kept == [3, 4, 5])
        }
    }

    // MARK: Slots

    /// Eight stalled uploads from one device (the old slot count) hold no storage slot:
    /// another device's batch is stored at once, and each stalled upload ends with 408.
    @Test func stalledUploadsFromOneDeviceDoNotStarveAnother() async throws {
        try await ServerHarness.with(configure: { $0.bodyTimeout = .seconds(8) }) { server in
            let other = try await server.addDevice("reef-2")
            let (url, ca, token) = (server.url, server.certificates.ca, server.deviceToken)
            let body = try WireCodec.encode(SampleBatches.batch())
            let stalled = (0..<8).map { _ in Task { try await SlowUpload.post(body, to: url, caFile: ca, token: token, bytesPerSecond: 20) } }
            try await Task.sleep(for: .milliseconds(800))

            let curl = Curl(caFile: ca)
            let started = ContinuousClock.now
            let response = try await curl.post(SampleBatches.batch(device: "reef-2"), to: url, token: other)
            #expect(response.status == 200)
            // Served while the stalled uploads still run (they end at the 8 s body timeout).
            #expect(ContinuousClock.now - started < .seconds(5))
            for upload in stalled {
                let answer = try await upload.value
                #expect(answer.status == 408)
                #expect(answer.reason == "the body did not arrive within 8 s; retry, or send smaller batches")
            }
            #expect(try await server.count("readings") == 5)
        }
    }

    // MARK: Deadlines that tell the truth

    /// The agent's largest allowed batch (100 000 rows) is stored within the 30 s store
    /// timeout and acknowledged in full.
    @Test func theAgentsLargestBatchIsStoredAndAcknowledged() async throws {
        try await ServerHarness.with(configure: { $0.maxBodyBytes = 16 << 20 }) { server in
            let curl = Curl(caFile: server.certificates.ca)
            let body = try WireCodec.encode(SampleBatches.batch(readings: 1...100_000, events: nil, health: false))
            let started = ContinuousClock.now
            let response = try await curl.postBody(body, to: server.url, token: server.deviceToken)
            let took = ContinuousClock.now - started
            #expect(response.status == 200)
            #expect(try response.decode(SyncAck.self).readings == .init(range: .init(first: 1, last: 100_000), inserted: 100_000, duplicates: 0))
            #expect(try await server.count("readings") == 100_000)
            // Upload, decode, validation and the insert together, in a debug build on a shared
            // machine (PostgreSQL's own part is a few seconds of it): inside the store timeout.
            #expect(took < .seconds(30), "took \(took)")
        }
    }

    /// A store that has started is waited for past the connection deadline: the batch is
    /// acknowledged because it was committed.
    @Test func aStoreThatOutlastsTheConnectionDeadlineIsAnsweredWithItsOutcome() async throws {
        try await ServerHarness.with(configure: {
            $0.databaseTimeout = .seconds(1)
            $0.storeTimeout = .seconds(20)
        }) { server in
            let curl = Curl(caFile: server.certificates.ca)
            let (url, token) = (server.url, server.deviceToken)
            try await server.database.withConnection { lockHolder in
                try await lockHolder.query("BEGIN", logger: lockHolder.logger)
                try await lockHolder.query("LOCK TABLE readings IN EXCLUSIVE MODE", logger: lockHolder.logger)
                let post = Task { try await curl.post(SampleBatches.batch(), to: url, token: token) }
                try await server.waitForBlockedInsert()
                try await Task.sleep(for: .seconds(2))
                try await lockHolder.query("COMMIT", logger: lockHolder.logger)
                let answer = try await post.value
                #expect(answer.status == 200)
                #expect(try answer.decode(SyncAck.self).readings?.inserted == 5)
            }
            #expect(try await server.count("readings") == 5)
        }
    }

    /// Past `storeTimeout` PostgreSQL cancels the statement and rolls back; the answer
    /// says nothing was stored, and nothing was.
    @Test func aStorePastTheStoreTimeoutIsRolledBackAndSaysSo() async throws {
        try await ServerHarness.with(configure: {
            $0.storeTimeout = .seconds(1)
            $0.retryAfterSeconds = 9
        }) { server in
            let curl = Curl(caFile: server.certificates.ca)
            let (url, token) = (server.url, server.deviceToken)
            try await server.database.withConnection { lockHolder in
                try await lockHolder.query("BEGIN", logger: lockHolder.logger)
                try await lockHolder.query("LOCK TABLE readings IN EXCLUSIVE MODE", logger: lockHolder.logger)
                let answer = try await curl.post(SampleBatches.batch(), to: url, token: token)
                try await lockHolder.query("COMMIT", logger: lockHolder.logger)
                #expect(answer.status == 503)
                #expect(answer.headers["retry-after"] == "9")
                #expect(answer.wireError == WireError(error: "database_timeout", reason:
                    "storing the batch took longer than 1 s and was rolled back; nothing was stored; retry later"))
            }
            #expect(try await server.count("readings") == 0)
            #expect(try await server.count("health") == 0)
        }
    }

    // MARK: Connections

    /// Three hundred sockets that never start TLS from one address: past the per-address
    /// cap they are closed at once, the rest after the handshake timeout, and `/healthz`
    /// answers another client throughout.
    @Test func idleSocketsAreCappedAndClosedAndHealthzStaysUp() async throws {
        try await ServerHarness.with(configure: {
            $0.connections.handshakeTimeout = .seconds(2)
            $0.connections.maxConnectionsPerAddress = 50
        }) { server in
            var sockets: [RawSocket] = []
            defer { sockets.forEach { $0.close() } }
            for _ in 0..<300 { sockets.append(try RawSocket(port: server.port)) }
            #expect(await sockets[0].waitForClose(within: .milliseconds(300)) == false)

            let curl = Curl(caFile: server.certificates.ca)
            let health = try await curl.request("GET", server.url + "/healthz", fromAddress: "127.0.0.2")
            #expect(health.status == 200)

            // The last ones were over the cap: closed by the server without waiting.
            #expect(await sockets[299].waitForClose(within: .seconds(1)))
            // An early one was admitted (still open above) and is closed by the handshake timeout
            // (2 s; without it the socket would stay open as long as the client keeps it). The
            // bound leaves room for a 2-core machine running every other suite at once.
            let opened = ContinuousClock.now
            #expect(await sockets[0].waitForClose(within: .seconds(20)))
            let closedAfter = ContinuousClock.now - opened
            #expect(closedAfter < .seconds(15))
            #expect(try await curl.request("GET", server.url + "/healthz").status == 200)
        }
    }

    /// At the total connection cap the server stops accepting; a new client waits in the
    /// backlog until the handshake timeout frees a slot, and is then served.
    @Test func atTheConnectionCapNewClientsWaitForAFreeSlot() async throws {
        try await ServerHarness.with(configure: {
            $0.connections.handshakeTimeout = .seconds(2)
            $0.connections.maxConnections = 10
        }) { server in
            var sockets: [RawSocket] = []
            defer { sockets.forEach { $0.close() } }
            for _ in 0..<10 { sockets.append(try RawSocket(port: server.port)) }
            try await Task.sleep(for: .milliseconds(300))
            let started = ContinuousClock.now
            let curl = Curl(caFile: server.certificates.ca)
            let health = try await curl.request("GET", server.url + "/healthz", fromAddress: "127.0.0.2")
            let waited = ContinuousClock.now - started
            #expect(health.status == 200)
            #expect(waited > .seconds(1), "waited \(waited)")
            #expect(waited < .seconds(8), "waited \(waited)")
        }
    }

    @Test func anIdleTLSConnectionIsClosedAfterTheIdleTimeout() async throws {
        try await ServerHarness.with(configure: { $0.connections.idleTimeout = .seconds(1) }) { server in
            let started = ContinuousClock.now
            let session = try await OpenSSLSession.open(port: server.port, caFile: server.certificates.ca)
            let closed = await session.waitForExit(within: .seconds(10))
            #expect(closed)
            #expect(ContinuousClock.now - started < .seconds(8))
        }
    }

    /// A request head dripped a header line at a time never completes: the connection is
    /// closed after the idle timeout although bytes keep arriving (the header-read limit).
    @Test func aRequestHeadDrippedSlowlyIsCutOffAtTheIdleTimeout() async throws {
        try await ServerHarness.with(configure: { $0.connections.idleTimeout = .seconds(1) }) { server in
            let session = try await OpenSSLSession.open(port: server.port, caFile: server.certificates.ca)
            let started = ContinuousClock.now
            session.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            var lines = 0
            while session.process.isRunning && ContinuousClock.now - started < .seconds(10) {
                try await Task.sleep(for: .milliseconds(250))
                session.send("X-Drip-\(lines): x\r\n")
                lines += 1
            }
            #expect(!session.process.isRunning)
            #expect(ContinuousClock.now - started < .seconds(6))
            #expect(lines >= 3)  // it did keep sending while the server waited
            if session.process.isRunning { session.process.terminate() }
        }
    }

    // MARK: The command line

    static let fleetServerBinary = Built.product("fleet-server").path

    /// `fleet-server migrate` with a wrong password exits at once with PostgreSQL's answer
    /// instead of retrying the login forever.
    @Test func migrateWithAWrongPasswordExitsAtOnce() async throws {
        let cluster = try await PostgresCluster.start()
        do {
            try await cluster.addPasswordRole("fleet", password: "right")
            let started = ContinuousClock.now
            let failure = await #expect(throws: Processes.Failure.self) {
                try await Processes.run(Self.fleetServerBinary, [
                    "migrate", "--postgres-url", "postgres://fleet:wrong@127.0.0.1:\(cluster.port)/\(cluster.database)?sslmode=disable",
                ])
            }
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(failure?.status == 1)
            #expect(failure?.output.contains("""
                PostgreSQL at 127.0.0.1:\(cluster.port) refused user "fleet": password authentication failed for user "fleet" (SQLSTATE 28P01)
                """) == true)
            #expect(failure?.output.contains("wrong") == false)  // the password is never echoed
            let migrated = try await Processes.run(Self.fleetServerBinary, [
                "migrate", "--postgres-url", "postgres://fleet:right@127.0.0.1:\(cluster.port)/\(cluster.database)?sslmode=disable",
            ])
            #expect(migrated == "schema is current\n")
        } catch {
            await cluster.destroy()
            throw error
        }
        await cluster.destroy()
    }

    // MARK: PostgreSQL settings

    @Test func postgresTLSIsRequiredForOtherHostsByDefault() throws {
        #expect(try PostgresURL("postgres://fleet@db.example.net/fleet").sslMode == .require)
        #expect(try PostgresURL("postgres://fleet@10.0.0.5:5433/fleet").sslMode == .require)
        #expect(try PostgresURL("postgres://fleet@localhost/fleet").sslMode == .prefer)
        #expect(try PostgresURL("postgres://fleet@127.0.0.1/fleet").sslMode == .prefer)
        #expect(try PostgresURL("postgres://fleet@[::1]/fleet").sslMode == .prefer)
        #expect(try PostgresURL("postgres://fleet@db.example.net/fleet?sslmode=disable").sslMode == .disable)
    }

    @Test func aWrongDatabasePasswordFailsAtOnceWithAClearError() async throws {
        let cluster = try await PostgresCluster.start()
        do {
            try await cluster.addPasswordRole("fleet", password: "right")
            let started = ContinuousClock.now
            let failure = await #expect(throws: ConfigurationError.self) {
                try await DatabaseCheck.login(url: "postgres://fleet:wrong@127.0.0.1:\(cluster.port)/\(cluster.database)?sslmode=disable",
                                              logger: .init(label: "test"))
            }
            #expect(failure?.description == """
                PostgreSQL at 127.0.0.1:\(cluster.port) refused user "fleet": password authentication failed for user "fleet" \
                (SQLSTATE 28P01); check the user and password in --postgres-url or FLEET_POSTGRES_URL
                """)
            #expect(ContinuousClock.now - started < .seconds(5))
            try await DatabaseCheck.login(url: "postgres://fleet:right@127.0.0.1:\(cluster.port)/\(cluster.database)?sslmode=disable",
                                          logger: .init(label: "test"))
        } catch {
            await cluster.destroy()
            throw error
        }
        await cluster.destroy()
    }

}

// MARK: Clients that misbehave

/// An upload through curl at a crawl (`--limit-rate`), as a device on a dying link or an
/// attacker would send it.
enum SlowUpload {
    struct Answer { var status: Int; var reason: String? }

    static func post(_ body: [UInt8], to server: String, caFile: String, token: String, bytesPerSecond: Int) async throws -> Answer {
        let directory = "/tmp/reef-slow-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(body).write(to: URL(fileURLWithPath: directory + "/request"))
        let status = try await Processes.run("/usr/bin/curl", [
            "-sS", "--cacert", caFile, "-X", "POST", "-o", directory + "/body", "-w", "%{http_code}", "--max-time", "30",
            "--limit-rate", "\(bytesPerSecond)", "-H", "Authorization: Bearer \(token)", "-H", "Content-Encoding: gzip",
            "-H", "Content-Type: \(WireProtocol.contentType)", "--data-binary", "@" + directory + "/request",
            server + WireProtocol.batchPath,
        ])
        let answer = (try? Data(contentsOf: URL(fileURLWithPath: directory + "/body"))).flatMap { try? JSONDecoder().decode(WireError.self, from: $0) }
        return Answer(status: Int(status) ?? 0, reason: answer?.reason)
    }
}

/// A TCP connection that sends nothing.
final class RawSocket {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    /// Whether the server closed the connection (a read returns end of file or an error)
    /// within `limit`. Polls without blocking, so the wait holds no thread of the
    /// cooperative pool the server and the other tests run on.
    func waitForClose(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while true {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 0) == 1 {
                var byte: UInt8 = 0
                return recv(fd, &byte, 1, 0) <= 0
            }
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    func close() { Glibc.close(fd) }
}

/// `openssl s_client` holding a finished TLS handshake open without sending a request.
final class OpenSSLSession {
    let process: Process
    /// Held so s_client's input stays open.
    let input: Pipe

    private init(process: Process, input: Pipe) {
        self.process = process
        self.input = input
    }

    static func open(port: Int, caFile: String) async throws -> OpenSSLSession {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", caFile, "-quiet", "-verify_return_error"]
        let input = Pipe()
        process.standardInput = input  // kept open: the client says nothing and does not hang up
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return OpenSSLSession(process: process, input: input)
    }

    func send(_ text: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    /// Whether s_client exited (the server closed the connection) within `limit`.
    func waitForExit(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            process.terminate()
            return false
        }
        return true
    }
}

extension Curl {
    /// A request from another loopback address, so per-address limits on 127.0.0.1 do not
    /// apply to it. Status and body only.
    func request(_ method: String, _ url: String, headers: [String: String] = [:], fromAddress: String) async throws -> Response {
        let bodyFile = "/tmp/reef-curl-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: bodyFile) }
        var arguments = ["-sS", "--cacert", caFile, "-X", method, "--interface", fromAddress, "-o", bodyFile, "-w", "%{http_code}",
                         "--max-time", "30"]
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { arguments += ["-H", "\(name): \(value)"] }
        let status = try await Processes.run("/usr/bin/curl", arguments + [url])
        let body = (try? Data(contentsOf: URL(fileURLWithPath: bodyFile))).map(Array.init) ?? []
        return Response(status: Int(status) ?? 0, headers: [:], body: body)
    }
}
