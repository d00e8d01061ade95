import EdgeTesting
import FleetServer
import FleetServerTesting
import Foundation
import PostgresNIO

/// The dashboard's two heavy reads, through the real server over TLS with curl as the
/// browser: a device page over 30 days of one sensor at 1 s (2 592 000 rows, downsampled in
/// PostgreSQL to 180 buckets), and a `/metrics` scrape with 1 000 devices. Baselines, in the
/// same run: one `count(*)` over the same 2.6 M rows straight from PostgreSQL (the scan any
/// summary of them pays), and `/healthz` over the same kind of connection (curl, TLS, one
/// request: what every answer costs before the server does any work).
struct DashboardBenchmark {
    let days: Int
    let devices: Int
    let runs: Int

    static let metricsToken = "metrics-token-for-the-benchmark-0123"

    func figures() throws -> [Figure] {
        let server = try blocking {
            try await ServerHarness.start(deviceName: "bench-1", configure: {
                $0.dashboard.metricsTokenHash = TokenHash(of: Self.metricsToken)
                // A month of 1 s rows is read in one statement: give it the time a page has.
                $0.databaseTimeout = .seconds(30)
            })
        }
        defer { try? blocking { await server.shutdown() } }
        let rows = days * 86_400
        try blocking { try await Self.seed(server, seconds: rows, devices: devices) }
        let curl = try CurlSession(server: server)
        try blocking { try await curl.signIn() }
        let page = server.url + "/dashboard/devices/bench-1?range=30d"
        let metrics = server.url + "/metrics"
        let health = server.url + "/healthz"
        // One of each first, not counted: PostgreSQL's cache and the server's first use.
        _ = try blocking { try await curl.time(page) }
        _ = try blocking { try await curl.time(metrics, bearer: Self.metricsToken) }
        var pageTimes: [Double] = [], scanTimes: [Double] = [], scrapeTimes: [Double] = [], healthTimes: [Double] = []
        for _ in 0..<runs {
            pageTimes.append(try blocking { try await curl.time(page) })
            scanTimes.append(try blocking { try await Self.scan(server) })
            scrapeTimes.append(try blocking { try await curl.time(metrics, bearer: Self.metricsToken) })
            healthTimes.append(try blocking { try await curl.time(health) })
        }
        return [
            Figure(name: "dashboard: device page, \(days) d of 1 s readings (\(rows) rows) (baseline: count(*) of them)", unit: "ms",
                   samples: pageTimes, baseline: scanTimes, goals: [.atMost(2_000)]),
            Figure(name: "dashboard: /metrics scrape, \(devices) devices (baseline: /healthz)", unit: "ms",
                   samples: scrapeTimes, baseline: healthTimes, goals: [.atMost(250)]),
        ]
    }

    /// One sensor at 1 s for `seconds` up to now on bench-1, and `devices - 1` more devices
    /// with a health report each (a third seen just now, a third degraded, a third offline).
    static func seed(_ server: ServerHarness, seconds: Int, devices: Int) async throws {
        let db = server.database
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try await db.query("""
            INSERT INTO readings (device_id, store_id, sequence, sensor_id, ts_ms, value, unit, quality)
            SELECT d.id, 'bench', s, 'tank', \(now) - s * 1000, 25 + sin(s / 3600.0), '°C', 'ok'
            FROM devices d, generate_series(1, \(seconds)::int8) s WHERE d.name = 'bench-1'
            """)
        var report = SampleBatches.health
        report.takenAtMillis = now
        let health = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        try await db.query("""
            INSERT INTO devices (name, token_hash, last_seen, last_health)
            SELECT 'bench-' || n, decode(md5(n::text) || md5(n::text), 'hex'),
                   now() - make_interval(secs => (n % 3) * 600), \(health)::jsonb
            FROM generate_series(2, \(devices)) n
            """)
        try await db.query("ANALYZE")
    }

    /// The baseline scan: every row the page summarises, counted in PostgreSQL.
    static func scan(_ server: ServerHarness) async throws -> Double {
        let start = ContinuousClock.now
        let rows = try await server.database.query("""
            SELECT count(*) FROM readings r JOIN devices d ON d.id = r.device_id
            WHERE d.name = 'bench-1' AND r.ts_ms >= \(Int64(Date().timeIntervalSince1970 * 1000) - 31 * 86_400_000)
            """)
        for try await _ in rows.decode(Int64.self) {}
        let elapsed = start.duration(to: .now)
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }
}

/// curl with a cookie jar, signed in to the dashboard as a browser would be.
struct CurlSession: Sendable {
    let server: ServerHarness
    let jar: String
    private let directory: TemporaryDirectory

    init(server: ServerHarness) throws {
        self.server = server
        directory = try TemporaryDirectory("dashboard-bench")
        jar = directory.file("cookies")
    }

    func signIn() async throws {
        let form = try await Processes.run("/usr/bin/curl", ["-sS", "--cacert", server.certificates.ca, "-c", jar, server.url + "/dashboard/sign-in"])
        guard let range = form.range(of: #"name="csrf" value=""#),
              let end = form[range.upperBound...].firstIndex(of: "\"") else {
            throw BenchError("the sign-in page has no CSRF field")
        }
        let csrf = String(form[range.upperBound..<end])
        let status = try await Processes.run("/usr/bin/curl", [
            "-sS", "--cacert", server.certificates.ca, "-b", jar, "-c", jar, "-o", "/dev/null", "-w", "%{http_code}",
            "--data-urlencode", "csrf=\(csrf)", "--data-urlencode", "token=\(server.adminToken)", server.url + "/dashboard/sign-in",
        ])
        guard status == "303" else { throw BenchError("dashboard sign-in answered \(status), not 303") }
    }

    /// Milliseconds from curl's request to the last byte of a 200 answer (curl's own
    /// `time_total`, so starting the curl process is not counted).
    func time(_ url: String, bearer: String? = nil) async throws -> Double {
        var arguments = ["-sS", "--cacert", server.certificates.ca, "-b", jar, "-o", "/dev/null", "-w", "%{http_code} %{time_total}"]
        if let bearer { arguments += ["-H", "Authorization: Bearer \(bearer)"] }
        let output = try await Processes.run("/usr/bin/curl", arguments + [url])
        let parts = output.split(separator: " ")
        guard parts.count == 2, parts[0] == "200", let seconds = Double(parts[1]) else {
            throw BenchError("\(url) answered \(output)")
        }
        return seconds * 1000
    }
}
