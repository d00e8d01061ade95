import EdgeCore
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Readings
import Synchronization
import Sync
import Wire

/// Backlog drain: a week of readings in a real `LocalDatabase`, pushed by the real
/// `SyncEngine` over libcurl and TLS, timed from the first batch to the last acknowledgement.
struct DrainBenchmark {
    /// A backlog shape: `sensors` sensors, one reading each every `period`, for seven days.
    struct Backlog: Sendable {
        var label: String
        var sensors: Int
        var period: Duration

        var readings: Int { sensors * Int(7 * 86_400 / period.seconds) }

        static let tenSeconds = Backlog(label: "10 sensors @ 10 s", sensors: 10, period: .seconds(10))
        static let oneSecond = Backlog(label: "10 sensors @ 1 s", sensors: 10, period: .seconds(1))
    }

    let backlog: Backlog
    let runs: Int

    /// Readings/s through the engine into a TLS endpoint that decodes each batch and
    /// acknowledges it without storing it: the device side's own ceiling.
    func agentSideFigure(tls: TLSFixture) throws -> Figure {
        var rates: [Double] = []
        for run in 0..<runs {
            let scratch = try Scratch("drain")
            log("drain \(backlog.label): writing \(backlog.readings) readings (run \(run + 1)/\(runs))")
            let (database, store) = try Self.writeBacklog(backlog, to: scratch.file("edge.sqlite"))
            let elapsed = try blocking {
                let server = try await AckingServer.start(tls: tls)
                defer { server.stop() }
                return try await Self.drain(database: database, store: store, server: server, tls: tls, expect: backlog.readings)
            }
            rates.append(Double(backlog.readings) / elapsed)
        }
        return Figure(name: "drain \(backlog.label), agent side (acking TLS endpoint)", unit: "readings/s", samples: rates,
                      goals: [.atLeast(50_000)])
    }

    /// The backlog written through `ReadingStore`, as the agent would have written it, with
    /// timestamps ending now (all synchronised, so nothing is held back).
    static func writeBacklog(_ backlog: Backlog, to path: String) throws -> (LocalDatabase, ReadingStore) {
        let database = try LocalDatabase.open(path: path)
        let store = try ReadingStore(database: database, clock: SystemDeviceClock(),
                                     commit: GroupCommitPolicy(maxRows: 4096))
        let ids = (0..<backlog.sensors).map { "sensor\($0)" }
        let periodMillis = Int64(backlog.period.seconds * 1000)
        let ticks = backlog.readings / backlog.sensors
        let start = Int64(Date().timeIntervalSince1970 * 1000) - Int64(ticks) * periodMillis
        for tick in 0..<ticks {
            let time = DeviceTime(unixMillis: start + Int64(tick) * periodMillis, bootNanos: UInt64(tick + 1) * 1_000_000, synchronized: true)
            for sensor in 0..<backlog.sensors {
                try store.append(sensorID: ids[sensor], value: 25 + Double((tick + sensor) % 1000) / 1000, unit: "°C",
                                 quality: .ok, takenAt: time)
            }
        }
        try store.flush()
        return (database, store)
    }

    /// Seconds the daemon's path (`SyncEngine.run()`, batches back to back while there is a
    /// backlog) takes until the server has acknowledged the last reading.
    ///
    /// Not `syncOnce` (the CLI's `sync --once`): it counts the remaining backlog after every
    /// batch, which is quadratic in the backlog (see docs/BENCHMARKS.md).
    static func drain(database: LocalDatabase, store: ReadingStore, server: AckingServer, tls: TLSFixture, expect: Int) async throws -> Double {
        let transport = try CurlTransport(configuration: .init(serverURL: server.url, token: BearerToken("edge-bench-token"), caFile: tls.ca))
        var logger = Logger(label: "edge-bench.sync")
        logger.logLevel = .warning
        let engine = try SyncEngine(
            configuration: SyncConfiguration(deviceID: "edge-bench"), database: database, readings: store, events: nil,
            transport: transport, health: BenchHealth(), clock: SystemDeviceClock(), logger: logger)
        let clock = ContinuousClock()
        let start = clock.now
        let sync = Task { try await engine.run() }
        defer { sync.cancel() }
        // A drain that stalls (failures, backoff) must not hang the benchmark.
        let deadline = start + .seconds(Double(expect) / 5_000 + 60)
        while server.ackedThrough < Int64(expect) {
            guard clock.now < deadline else {
                throw BenchError("drain stalled at sequence \(server.ackedThrough) of \(expect): \(try await engine.status())")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        let elapsed = clock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// Health as a freshly started agent with no sensors would report it.
struct BenchHealth: HealthSource {
    let started = SystemDeviceClock().now()
    func agentHealth() -> AgentHealth {
        AgentHealth(version: "edge-bench", startedAt: started, sensors: [], firingAlerts: 0)
    }
}

/// `POST /v1/batches` over TLS: decodes and validates each batch as the server does and
/// acknowledges all of it, storing nothing.
struct AckingServer {
    let url: String
    private let task: Task<Void, any Error>
    private let acked: Progress

    final class Progress: Sendable {
        let last = Mutex<Int64>(0)
    }

    /// The highest reading sequence acknowledged so far.
    var ackedThrough: Int64 { acked.last.withLock { $0 } }

    static func start(tls: TLSFixture) async throws -> AckingServer {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(tls.serverCertificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.serverKey, format: .pem)))
        let router = Router()
        let acked = Progress()
        router.post(RouterPath(WireProtocol.batchPath)) { request, _ -> Response in
            let body = Array(buffer: try await request.body.collect(upTo: WireProtocol.defaultMaxBodyBytes))
            let batch = try WireCodec.decodeBatch(gzipped: body)
            let ack = SyncAck(
                readings: batch.readings.map { .init(range: $0.range, inserted: $0.count, duplicates: 0) },
                events: batch.events.map { .init(range: $0.range, inserted: $0.events.count, duplicates: 0) },
                healthStored: batch.health != nil)
            if let range = batch.readings?.range {
                acked.last.withLock { $0 = max($0, range.last) }
            }
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
        return AckingServer(url: "https://127.0.0.1:\(port)", task: task, acked: acked)
    }

    func stop() { task.cancel() }
}
