import EdgeTesting
import EdgeCore
import FleetServerTesting
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Readings
import Synchronization
import Sync
import Wire

/// Backlog drain: a week of readings in a real `LocalDatabase`, pushed by the real
/// `SyncEngine.run()` (the daemon's path) over libcurl and TLS, timed from the first batch
/// to the acknowledgement of the last reading.
struct DrainBenchmark {
    /// A backlog shape: `sensors` sensors, one reading each every `period`, for seven days.
    struct Backlog: Sendable {
        var label: String
        var sensors: Int
        var period: Duration

        var readings: Int { sensors * Int(7 * 86_400 / period.inSeconds) }

        static let tenSeconds = Backlog(label: "10 sensors @ 10 s", sensors: 10, period: .seconds(10))
        static let oneSecond = Backlog(label: "10 sensors @ 1 s", sensors: 10, period: .seconds(1))
    }

    let backlog: Backlog
    let runs: Int

    /// Readings/s from the device's SQLite into the fleet server's PostgreSQL table, against
    /// `COPY` of the same rows into the same (emptied) table, alternating which goes first.
    func endToEndFigure(server: ServerHarness) throws -> Figure {
        let deviceID = try blocking { try await Self.deviceID(named: server.deviceName, in: server.database) }
        var drained: [Double] = []
        var copied: [Double] = []
        for run in 0..<runs {
            let scratch = try Scratch("drain")
            log("drain \(backlog.label) → PostgreSQL: writing \(backlog.readings) readings (run \(run + 1)/\(runs))")
            let (database, store) = try Self.writeBacklog(backlog, to: scratch.file("edge.sqlite"))
            let csv = scratch.file("readings.csv")
            try Self.exportCSV(store, deviceID: deviceID, storeID: database.storeID, to: csv)
            for phase in run.isMultiple(of: 2) ? ["sync", "copy"] : ["copy", "sync"] {
                try blocking { try await Self.emptyReadings(server) }
                let elapsed: Double
                if phase == "sync" {
                    log("drain \(backlog.label) → PostgreSQL: SyncEngine over TLS")
                    elapsed = try blocking {
                        try await Self.drain(database: database, store: store, to: server.url, deviceID: server.deviceName,
                                             token: server.deviceToken, ca: server.certificates.ca, expect: backlog.readings)
                    }
                } else {
                    log("drain \(backlog.label) → PostgreSQL: COPY")
                    elapsed = try Self.copy(csv, into: server)
                }
                let stored = try blocking { try await Self.readingCount(server.database) }
                guard stored == backlog.readings else {
                    throw BenchError("\(phase) left \(stored) readings in PostgreSQL, expected \(backlog.readings)")
                }
                let rate = Double(backlog.readings) / elapsed
                if phase == "sync" { drained.append(rate) } else { copied.append(rate) }
            }
        }
        try blocking { try await Self.emptyReadings(server) }
        return Figure(name: "drain \(backlog.label) into PostgreSQL over TLS (baseline: COPY)", unit: "readings/s",
                      samples: drained, baseline: copied, goals: [.atLeast(50_000), .fractionOfBaseline(0.3)])
    }

    /// Readings/s through the engine into a TLS endpoint that decodes each batch and
    /// acknowledges it without storing it: the device side's own ceiling.
    func agentSideFigure(certificates: TestCertificates) throws -> Figure {
        var rates: [Double] = []
        for run in 0..<runs {
            let scratch = try Scratch("drain")
            log("drain \(backlog.label) → acking endpoint: writing \(backlog.readings) readings (run \(run + 1)/\(runs))")
            let (database, store) = try Self.writeBacklog(backlog, to: scratch.file("edge.sqlite"))
            let elapsed = try blocking {
                let server = try await AckingServer.start(certificates: certificates)
                defer { server.stop() }
                return try await Self.drain(database: database, store: store, to: server.url, deviceID: "edge-bench",
                                            token: "edge-bench-token", ca: certificates.ca, expect: backlog.readings)
            }
            rates.append(Double(backlog.readings) / elapsed)
        }
        return Figure(name: "drain \(backlog.label), device side (acking TLS endpoint)", unit: "readings/s", samples: rates)
    }

    /// The backlog written through `ReadingWriter`, as the agent would have written it, with
    /// timestamps ending now (all synchronised, so nothing is held back).
    static func writeBacklog(_ backlog: Backlog, to path: String) throws -> (LocalDatabase, ReadingWriter) {
        let database = try LocalDatabase.open(path: path)
        let store = try ReadingWriter(database: database, clock: SystemDeviceClock(),
                                     commit: GroupCommitPolicy(maxRows: 4096))
        let ids = (0..<backlog.sensors).map { "sensor\($0)" }
        let periodMillis = Int64(backlog.period.inSeconds * 1000)
        let ticks = backlog.readings / backlog.sensors
        let start = Int64(Date().timeIntervalSince1970 * 1000) - Int64(ticks) * periodMillis
        for tick in 0..<ticks {
            let time = DeviceTime(unixMillis: start + Int64(tick) * periodMillis, bootNanos: UInt64(tick + 1) * 1_000_000, synchronized: true)
            for sensor in 0..<backlog.sensors {
                try store.append(Sample(sensorID: ids[sensor], value: 25 + Double((tick + sensor) % 1000) / 1000, unit: "°C",
                                 quality: .ok, time: time))
            }
        }
        try store.flush()
        return (database, store)
    }

    /// The same rows as the server would store them, as CSV for `COPY` (not timed).
    static func exportCSV(_ store: ReadingWriter, deviceID: Int64, storeID: String, to path: String) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let file = FileHandle(forWritingAtPath: path) else { throw BenchError("cannot write \(path)") }
        defer { try? file.close() }
        var after: Int64 = 0
        while true {
            let rows = try store.queries.readings(afterSequence: after, limit: 50_000)
            guard let last = rows.last else { return }
            var text = ""
            text.reserveCapacity(rows.count * 64)
            for row in rows {
                text += "\(deviceID),\(storeID),\(row.sequence),\(row.sensorID),\(row.timestampMillis),\(row.value),\(row.unit),\(row.quality.rawValue)\n"
            }
            try file.write(contentsOf: Data(text.utf8))
            after = last.sequence
        }
    }

    /// Seconds psql's `\copy` takes to load `csv` into the server's readings table: the
    /// fastest way rows get into PostgreSQL from a client, through the same indexes.
    static func copy(_ csv: String, into server: ServerHarness) throws -> Double {
        let cluster = server.cluster
        return try seconds {
            _ = try blocking {
                try await Processes.run(cluster.binDirectory + "/psql", [
                    "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(cluster.port), "-U", "postgres",
                    "-d", cluster.database,
                    "-c", "\\copy readings (device_id, store_id, sequence, sensor_id, ts_ms, value, unit, quality) FROM '\(csv)' WITH (FORMAT csv)",
                ])
            }
        }
    }

    /// Both phases start from an empty table and a fresh checkpoint, so neither pays for the
    /// other's dirty pages.
    static func emptyReadings(_ server: ServerHarness) async throws {
        try await server.database.query("TRUNCATE readings")
        try await server.database.query("CHECKPOINT")
    }

    static func readingCount(_ database: PostgresClient) async throws -> Int {
        for try await count in try await database.query("SELECT count(*) FROM readings").decode(Int64.self) {
            return Int(count)
        }
        return 0
    }

    static func deviceID(named name: String, in database: PostgresClient) async throws -> Int64 {
        for try await id in try await database.query("SELECT id FROM devices WHERE name = \(name)").decode(Int64.self) {
            return id
        }
        throw BenchError("device \(name) is not registered on the server")
    }

    /// Seconds `SyncEngine.run()` takes until the server has acknowledged reading `expect`.
    static func drain(database: LocalDatabase, store: ReadingWriter, to url: String, deviceID: String, token: String,
                      ca: String, expect: Int) async throws -> Double {
        let transport = AckWatcher(try CurlTransport(configuration: .init(serverURL: url, token: BearerToken(token), caFile: ca)))
        var logger = Logger(label: "edge-bench.sync")
        logger.logLevel = .warning
        let engine = try SyncEngine(
            configuration: SyncConfiguration(deviceID: deviceID), database: database, readings: store.queries, events: nil,
            transport: transport, health: BenchHealth(), clock: SystemDeviceClock(), logger: logger)
        let clock = ContinuousClock()
        let start = clock.now
        let sync = Task { try await engine.run() }
        defer { sync.cancel() }
        // A drain that stalls (failures, backoff) must not hang the benchmark.
        let deadline = start + .seconds(Double(expect) / 5_000 + 60)
        while transport.ackedThrough < Int64(expect) {
            guard clock.now < deadline else {
                throw BenchError("drain stalled at sequence \(transport.ackedThrough) of \(expect): \(try await engine.status())")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        return (clock.now - start).inSeconds
    }
}

/// The engine's own transport, watched: records the highest reading sequence the server
/// acknowledged, so the benchmark knows when the drain is done without asking the database.
final class AckWatcher: SyncTransport {
    private let base: CurlTransport
    private let acked = Mutex<Int64>(0)

    init(_ base: CurlTransport) { self.base = base }

    var ackedThrough: Int64 { acked.withLock { $0 } }

    func post(batch body: [UInt8]) async throws(TransportError) -> TransportResponse {
        let response = try await base.post(batch: body)
        if response.status == 200, let last = (try? WireCodec.decodeAnswer(SyncAck.self, response.body))?.readings?.range.last {
            acked.withLock { $0 = max($0, last) }
        }
        return response
    }
}

/// Health as a freshly started agent with no sensors would report it.
struct BenchHealth: HealthFeed {
    let started = SystemDeviceClock().now()
    func latestReport() -> HealthReport? {
        let clock = SystemDeviceClock()
        let now = clock.now()
        return HealthReport(
            takenAtMillis: now.unixMillis, bootID: clock.bootID, version: "edge-bench",
            uptimeSeconds: Double(now.bootNanos &- started.bootNanos) / 1e9, status: .healthy, reasons: [],
            clockSynchronized: now.synchronized, sensors: [], databaseBytes: 0, backlogRows: 0, backlogOldestMillis: nil,
            drops: [], deadLetteredBatches: 0, lastSyncMillis: nil, rssBytes: 0, cpuPercent: 0, firingAlerts: 0)
    }
}

/// `POST /v1/batches` over TLS: decodes and validates each batch as the server does and
/// acknowledges all of it, storing nothing.
struct AckingServer {
    let url: String
    private let task: Task<Void, any Error>

    static func start(certificates: TestCertificates) async throws -> AckingServer {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificates.serverCertificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: certificates.serverKey, format: .pem)))
        let router = Router()
        router.post(RouterPath(WireProtocol.batchPath)) { request, _ -> Response in
            let body = Array(buffer: try await request.body.collect(upTo: WireProtocol.defaultMaxBodyBytes))
            let batch = try WireCodec.decodeBatch(gzipped: body)
            let ack = SyncAck(
                readings: batch.readings.map { .init(range: $0.range, inserted: $0.count, duplicates: 0) },
                events: batch.events.map { .init(range: $0.range, inserted: $0.events.count, duplicates: 0) },
                healthStored: batch.health != nil)
            return Response(status: .ok, headers: [.contentType: "application/json", .contentEncoding: "gzip"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try WireCodec.encode(ack))))
        }
        let bound = AsyncStream<Int>.makeStream()
        // Cancelling `run()` is how it stops; Hummingbird logs that as an error.
        var logger = Logger(label: "edge-bench.acking-server")
        logger.logLevel = .critical
        let app = Application(
            router: router, server: try .tls(.http1(), tlsConfiguration: configuration),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                bound.continuation.yield(channel.localAddress?.port ?? 0)
                bound.continuation.finish()
            },
            logger: logger)
        let task = Task { try await app.run() }
        var port = 0
        for await value in bound.stream { port = value }
        return AckingServer(url: "https://127.0.0.1:\(port)", task: task)
    }

    func stop() { task.cancel() }
}
