import EdgeTesting
import FleetServer
import FleetServerTesting
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import Testing
import Wire

/// The dashboard in a real browser: headless Debian Chromium driven by Playwright
/// (Tests/Browser/dashboard_test.py) against the fleet server on a throwaway PostgreSQL.
/// Never skips: without the browser or Playwright it fails with what to install.
@Suite struct DashboardBrowserTests {
    /// The venv scripts/install-packages.sh puts Playwright in (REEF_BROWSER_VENV there and here).
    static let python = (ProcessInfo.processInfo.environment["REEF_BROWSER_VENV"] ?? "/opt/reef-edge-browser-venv") + "/bin/python"

    @Test func signInOverviewDeviceChartCSRFAndSignOutInChromium() async throws {
        for (path, what) in [(Self.python, "Playwright's venv"), ("/usr/bin/chromium", "Debian's chromium")] {
            #expect(FileManager.default.isExecutableFile(atPath: path), "\(what) is not at \(path); run scripts/install-packages.sh as root")
        }
        let probe = ProbeHandler()
        try await DashboardServer.with(handlers: [probe]) { server in
            let seeded = try await DashboardSeed.fleet(server)
            let dead = try await DashboardSeed.deadJob(server, kind: probe.kind)
            let directory = try TemporaryDirectory("dashboard-browser")
            var context: [String: Any] = [
                "url": server.url, "adminToken": server.adminToken, "deviceToken": server.deviceToken,
                "counts": seeded.counts, "chart": seeded.chart, "deadJob": ["id": dead.id, "error": dead.error],
                "receiver": "ops-ntfy", "route": "critical-to-ops",
            ]
            // Set to docs/dashboard to refresh the screenshots docs/DASHBOARD.md shows.
            if let shots = ProcessInfo.processInfo.environment["REEF_DASHBOARD_SCREENSHOTS"] { context["screenshots"] = shots }
            let file = directory.file("seed.json")
            try JSONSerialization.data(withJSONObject: context).write(to: URL(fileURLWithPath: file))
            let script = Built.repository.appendingPathComponent("Tests/Browser/dashboard_test.py").path
            let output: String
            do {
                output = try await Processes.run(Self.python, [script, file])
            } catch let failure as Processes.Failure {
                Issue.record("the browser test failed:\n\(failure.output)")
                return
            }
            #expect(output.hasSuffix(" passed, 0 failed\n"), "\(output)")
            #expect(!output.contains("FAIL"), "\(output)")
            #expect(probe.performed.withLock { $0 } == [dead.id], "the worker delivered the retried job once")
        }
    }
}

/// Completes every job it is given: the dead job the browser retries is then delivered.
final class ProbeHandler: JobHandler {
    let kind = "dashboard-probe"
    let performed = Mutex<[Int64]>([])

    func perform(_ job: ClaimedJob) async -> JobResult {
        performed.withLock { $0.append(job.id) }
        return .completed
    }
}

/// The fleet server with the given job handlers, on a throwaway PostgreSQL over real TLS,
/// with one registered device: `ServerHarness` runs no handlers, and a job the harness's
/// own workers claimed would die there for want of one.
struct DashboardServer: Sendable {
    let url: String
    let database: PostgresClient
    let adminToken = "admin-token-for-tests-0123456789"
    let deviceToken = DeviceToken.generate()

    func addDevice(_ name: String) async throws -> String {
        let token = DeviceToken.generate()
        try await database.query("INSERT INTO devices (name, token_hash) VALUES (\(name), \(ByteBuffer(bytes: TokenHash(of: token).bytes)))")
        return token
    }

    static func with(handlers: [any JobHandler], _ body: (DashboardServer) async throws -> Void) async throws {
        let certificates = try await TestCertificates.generate()
        let cluster = try await PostgresCluster.start()
        let port = try Processes.freePort()
        let database = PostgresClient(configuration: cluster.clientConfiguration, backgroundLogger: Logger(label: "dashboard-db"))
        let databaseTask = Task { await database.run() }
        let server = DashboardServer(url: "https://127.0.0.1:\(port)", database: database)
        var configuration = FleetServerConfiguration(
            host: "127.0.0.1", port: port,
            tls: .init(certificateChain: certificates.serverCertificate, privateKey: certificates.serverKey),
            database: cluster.clientConfiguration, databaseTimeout: .seconds(2), adminTokenHash: TokenHash(of: server.adminToken))
        configuration.dashboard.metricsTokenHash = TokenHash(of: DashboardSeed.metricsToken)
        configuration.worker.pollInterval = .milliseconds(200)
        // A receiver and a route for the Notifications tab (its test messages have no handler
        // here and die, which the tab shows as well).
        configuration.notifications = NotificationSettings(
            receivers: [NotificationReceiver(id: "ops-ntfy", kind: .ntfy, url: "https://127.0.0.1:9/reef")],
            routes: [NotificationRoute(id: "critical-to-ops", minSeverity: .critical, receivers: ["ops-ntfy"])])
        var logger = Logger(label: "dashboard-server")
        logger.logLevel = .warning
        let listening = AsyncStream<Void>.makeStream()
        let application = try FleetServer.makeApplication(configuration: configuration, logger: logger, handlers: handlers,
                                                          onServerRunning: { _ in listening.continuation.yield() })
        let serverTask = Task { try await application.run() }
        do {
            for await _ in listening.stream { break }
            try await database.query("INSERT INTO devices (name, token_hash) VALUES ('reef-1', \(ByteBuffer(bytes: TokenHash(of: server.deviceToken).bytes)))")
            try await body(server)
        } catch {
            serverTask.cancel()
            _ = await serverTask.result
            databaseTask.cancel()
            await cluster.destroy()
            throw error
        }
        serverTask.cancel()
        _ = await serverTask.result
        databaseTask.cancel()
        await cluster.destroy()
    }
}

/// A fleet with one device in each state, and a sensor with known buckets, a gap and a
/// rule threshold. What it seeded is returned for the checks.
enum DashboardSeed {
    static let metricsToken = "metrics-token-for-tests-0123456789"

    struct Seeded {
        var counts: [String: Int]
        var chart: [String: Any]
    }

    static func health(_ status: HealthReport.Status, takenAt: Int64, reasons: [String] = []) throws -> String {
        var report = SampleBatches.health
        report.status = status
        report.reasons = reasons
        report.takenAtMillis = takenAt
        report.backlogOldestMillis = takenAt - 720_000
        return String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
    }

    static func fleet(_ server: DashboardServer) async throws -> Seeded {
        let db = server.database
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for name in ["tank-online", "tank-degraded", "tank-offline", "tank-new", "sump-online"] { _ = try await server.addDevice(name) }
        let healthy = try health(.healthy, takenAt: now)
        let degraded = try health(.degraded, takenAt: now, reasons: ["sensor ph failing"])
        try await db.query("UPDATE devices SET last_seen = now() - interval '2 minutes', last_health = \(healthy)::jsonb WHERE name IN ('tank-online', 'sump-online')")
        try await db.query("UPDATE devices SET last_seen = now(), last_health = \(degraded)::jsonb WHERE name IN ('tank-degraded', 'reef-1')")
        try await db.query("UPDATE devices SET last_seen = now() - interval '3 hours', last_health = \(healthy)::jsonb WHERE name = 'tank-offline'")
        // One reading a minute for 50 minutes, minutes 20–29 missing: 40 one-minute buckets in
        // two runs, whatever minute the page is drawn in (the 1 h window covers them all).
        try await db.query("""
            INSERT INTO readings (device_id, store_id, sequence, sensor_id, ts_ms, value, unit, quality)
            SELECT d.id, 'seed', k, 'tank', \(now) - k * 60000, 25 + (k % 3), '°C', 'ok'
            FROM devices d, generate_series(1, 50) k WHERE d.name = 'reef-1' AND k NOT BETWEEN 20 AND 29
            """)
        try await db.query("""
            INSERT INTO alert_events (device_id, store_id, sequence, rule_id, sensor_id, kind, severity, value, threshold, ts_ms, message)
            SELECT d.id, 'seed', 1, 'tank-hot', 'tank', 'fired', 'critical', 27.0, 26.5, \(now) - 300000, 'tank above 26.5 °C'
            FROM devices d WHERE d.name = 'reef-1'
            """)
        // Health history: degraded an hour ago, healthy since.
        try await db.query("""
            INSERT INTO health (device_id, taken_at_ms, report)
            SELECT d.id, \(now) - k * 1000000, (CASE WHEN k = 3 THEN \(degraded) ELSE \(healthy) END)::jsonb
            FROM devices d, generate_series(1, 3) k WHERE d.name = 'reef-1'
            """)
        // The database's own count of each state (offline after 300 s, the default threshold;
        // these reports name no sync interval and no device has its own threshold).
        let rows = try await db.query("""
            SELECT count(*) FILTER (WHERE last_seen IS NULL),
                   count(*) FILTER (WHERE last_seen <= now() - interval '300 seconds'),
                   count(*) FILTER (WHERE last_seen > now() - interval '300 seconds' AND last_health->>'status' <> 'healthy'),
                   count(*) FILTER (WHERE last_seen > now() - interval '300 seconds' AND (last_health IS NULL OR last_health->>'status' = 'healthy'))
            FROM devices
            """)
        var counts: [String: Int] = [:]
        for try await (never, offline, degradedCount, online) in rows.decode((Int64, Int64, Int64, Int64).self) {
            counts = ["never_seen": Int(never), "offline": Int(offline), "degraded": Int(degradedCount), "online": Int(online)]
        }
        return Seeded(counts: counts, chart: ["device": "reef-1", "sensor": "tank", "range": "1h", "buckets": 40, "segments": 2, "threshold": 26.5])
    }

    /// A job that died with a receiver's refusal, as the queue leaves one.
    static func deadJob(_ server: DashboardServer, kind: String) async throws -> (id: Int64, error: String) {
        let error = "HTTP 410 from the probe receiver: gone"
        let rows = try await server.database.query("""
            INSERT INTO jobs (kind, receiver, args, unique_key, state, priority, run_at, attempt, max_attempts, last_error, finished)
            VALUES (\(kind), 'probe', '{}'::jsonb, 'dashboard-dead-1', 'dead', 2, now(), 3, 3, \(error), now())
            RETURNING id
            """)
        var id: Int64 = 0
        for try await value in rows.decode(Int64.self) { id = value }
        return (id, error)
    }
}
