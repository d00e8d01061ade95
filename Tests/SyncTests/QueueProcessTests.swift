import EdgeTesting
import FleetServer
import FleetServerTesting
import Foundation
import Logging
import NotifyDelivery
import PostgresNIO
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real `fleet-server serve` processes sharing one database and delivering `notify` jobs to
/// a real HTTPS receiver: two processes deliver 1000 jobs exactly once between them, and a
/// process killed mid-delivery has its job delivered by the other after the lease expires.
@Suite(.serialized) struct QueueProcessTests {
    @Test func twoServersDeliverAThousandJobsWithNoneTwiceAndNoneLost() async throws {
        try await Fleet.with { fleet in
            let a = try await fleet.serve()
            let b = try await fleet.serve()
            let jobs = (1...1_000).map { fleet.testJob(at: Int64($0)) }
            #expect(try await fleet.queue.insert(jobs) == 1_000)
            _ = try await fleet.receiver.requests(atLeast: 1_000, within: .seconds(180))
            try await fleet.database.waitUntil("1000 jobs completed") { try await fleet.database.rows("SELECT count(*)::text FROM jobs WHERE state = 'completed'") == ["1000"] }
            try await Task.sleep(for: .milliseconds(500))
            let keys = try fleet.receiver.requests().map { $0.header("Idempotency-Key") ?? "none" }
            #expect(keys.count == 1_000)
            #expect(Set(keys) == Set(jobs.map(\.uniqueKey)))
            let byWorker = try await fleet.database.rows("SELECT count(*)::text FROM job_attempts WHERE outcome = 'completed' GROUP BY worker ORDER BY worker")
            #expect(byWorker.count == 2)
            #expect(byWorker.compactMap(Int.init).reduce(0, +) == 1_000)
            #expect(try await fleet.database.rows("SELECT receiver || ' ' || sent || ' ' || failed || ' ' || rescued FROM job_counters") == ["hook 1000 0 0"])
            #expect(await a.stop() == 0)
            #expect(await b.stop() == 0)
        }
    }

    @Test func aServerKilledMidDeliveryHasItsJobDeliveredByAnotherWithTheSameKey() async throws {
        try await Fleet.with { fleet in
            // The first delivery hangs at the receiver; every later one is answered at once.
            try fleet.receiver.script([.init(status: 200, delay: 8), .init(status: 200)])
            let doomed = try await fleet.serve(leaseSeconds: 3, heartbeatSeconds: 1)
            let job = fleet.testJob(at: 1)
            try await fleet.queue.insert([job])
            _ = try await fleet.receiver.requests(atLeast: 1, within: .seconds(30))
            doomed.kill()
            let survivor = try await fleet.serve(leaseSeconds: 3, heartbeatSeconds: 1)
            try await fleet.database.waitUntil("the job completed") { try await fleet.database.rows("SELECT state FROM jobs") == ["completed"] }
            let requests = try fleet.receiver.requests()
            #expect(requests.count == 2)
            #expect(requests.map { $0.header("Idempotency-Key") } == [job.uniqueKey, job.uniqueKey])
            let lastError = try await fleet.database.rows("SELECT attempt || ' ' || last_error FROM jobs")
            #expect(lastError.count == 1 && lastError[0].hasPrefix("2 lease expired on ") && lastError[0].contains("-\(doomed.pid)-")
                    && lastError[0].hasSuffix(" during attempt 1"))
            #expect(try await fleet.database.rows("SELECT outcome FROM job_attempts ORDER BY id") == ["rescued", "completed"])
            #expect(try await fleet.database.rows("SELECT receiver || ' ' || sent || ' ' || rescued FROM job_counters") == ["hook 1 1"])
            #expect(await survivor.stop() == 0)
        }
    }
}

/// A database, an HTTPS receiver and `fleet-server serve` processes configured to deliver to it.
private struct Fleet: Sendable {
    let cluster: PostgresCluster
    let certificates: TestCertificates
    let receiver: HTTPSReceiver
    /// The same database, for inserting jobs and asserting.
    let database: QueueDatabase
    let directory: String
    var queue: JobQueue { database.queue }

    static func with(_ body: (Fleet) async throws -> Void) async throws {
        let cluster = try await PostgresCluster.start()
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        let client = PostgresClient(configuration: cluster.clientConfiguration, backgroundLogger: Logger(label: "queue-process-tests"))
        let running = Task { await client.run() }
        let directory = "/tmp/reef-queue-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let database = QueueDatabase(cluster: cluster, client: client, logger: Logger(label: "queue-process-tests"))
        let fleet = Fleet(cluster: cluster, certificates: certificates, receiver: receiver, database: database, directory: directory)
        var failure: (any Error)?
        do { try await body(fleet) } catch { failure = error }
        for server in ServeProcess.started.withLock({ $0 }) { server.kill() }
        ServeProcess.started.withLock { $0 = [] }
        running.cancel()
        await running.value
        receiver.stop()
        await cluster.destroy()
        try? FileManager.default.removeItem(atPath: directory)
        if let failure { throw failure }
    }

    /// A receiver test notification: one `notify` job, keyed by `at`.
    func testJob(at: Int64) -> NewJob {
        NotifyJobArgs(receiver: "hook", route: "", groupID: 0, flush: 0, groupKey: "{}", groupLabels: [:], notices: [],
                      testAtMillis: at).newJob
    }

    /// Starts `fleet-server serve` and returns once its workers answer. Leases are short
    /// only where a test needs one to expire: on a loaded machine a short lease can expire
    /// between heartbeats, and then a job is (rightly) delivered twice.
    func serve(leaseSeconds: Double = 30, heartbeatSeconds: Double = 5) async throws -> ServeProcess {
        let port = try Processes.freePort()
        let config: [String: Any] = [
            "host": "127.0.0.1", "port": port, "plainHTTP": true, "postgresURL": cluster.url,
            "worker": [
                "concurrency": 8, "pollIntervalSeconds": 0.05, "leaseSeconds": leaseSeconds, "heartbeatSeconds": heartbeatSeconds,
                "rescueIntervalSeconds": 0.5, "retryBaseSeconds": 0.1, "retryCapSeconds": 1,
            ] as [String: Any],
            "notifications": ["receivers": [["id": "hook", "kind": "webhook", "url": receiver.url + "/hook", "caFile": receiver.caFile]]],
        ]
        let path = "\(directory)/serve-\(port).json"
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
        let server = try ServeProcess(config: path, log: "\(directory)/serve-\(port).log", port: port)
        let curl = Curl(caFile: certificates.ca)
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if (try? await curl.request("GET", "http://127.0.0.1:\(port)/v1/worker/health"))?.status == 200 { return server }
            guard server.process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        server.kill()
        throw Processes.Failure(command: "fleet-server serve on port \(port)", status: 1,
                                output: (try? String(contentsOfFile: server.log, encoding: .utf8)) ?? "no log")
    }
}

/// One `fleet-server serve` process, its output in `log`.
private final class ServeProcess: @unchecked Sendable {
    static let started = Mutex<[ServeProcess]>([])
    let process = Process()
    let log: String
    let port: Int
    /// Kept from the launch: only this process is ever signalled.
    let pid: Int32

    init(config: String, log: String, port: Int) throws {
        self.log = log
        self.port = port
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = Built.product("fleet-server")
        process.arguments = ["serve", "--config", config]
        process.environment = ProcessInfo.processInfo.environment.merging(["LOG_LEVEL": "warning"]) { $1 }
        process.standardOutput = output
        process.standardError = output
        try process.run()
        pid = process.processIdentifier
        precondition(pid > 0, "a launched process has a pid")
        Self.started.withLock { $0.append(self) }
    }

    func kill() {
        if process.isRunning { Glibc.kill(pid, SIGKILL) }
    }

    /// SIGTERM: a graceful stop; returns the exit status.
    func stop() async -> Int32 {
        if process.isRunning { Glibc.kill(pid, SIGTERM) }
        return await process.exited()
    }
}
