import EdgeTesting
import Foundation
import Testing
import Wire
@testable import edge_agent

/// The node_exporter textfile: what the renderer writes, read back by prometheus_client's
/// parser (scripts/parse-metrics.py), and the real daemon writing it.
@Suite struct MetricsTextfileTests {
    typealias Sample = PrometheusText.Sample

    static func parse(_ path: String) async throws -> [Sample] { try await PrometheusText.parse(file: path) }

    static func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    static let report = HealthReport(
        takenAtMillis: 1_764_770_000_500, bootID: "boot", version: "1.4.0", uptimeSeconds: 3_600.25, status: .degraded,
        reasons: ["sensor ph failing"], clockSynchronized: true,
        sensors: [
            SensorHealth(id: "tank_temp", state: .ok, errorCount: 0, errorsByKind: [:], lastError: nil, lastReadingAgeSeconds: 0.5),
            SensorHealth(id: "ph", state: .failing, errorCount: 4, errorsByKind: ["noDevice": 3, "busy \"254\"": 1],
                         lastError: "no device at 0x63", lastReadingAgeSeconds: 120),
        ],
        databaseBytes: 1_048_576, backlogRows: 42, backlogOldestMillis: 1_764_769_990_500,
        drops: [DropSummary(sensorID: "ph", reason: "budget-unsynced", count: 7, firstMillis: 1, lastMillis: 2)],
        deadLetteredBatches: 1, lastSyncMillis: nil, rssBytes: 20_000_000, cpuPercent: 2.5, firingAlerts: 2,
        eventBacklogRows: 3,
        notify: [NotifyTargetHealth(target: "phone", sent: 5, retried: 2, dead: 1, pending: 4, oldestPendingAgeSeconds: 9)])

    @Test func everyFigureParsesBackWithItsValue() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.url.appendingPathComponent("edge_agent.prom").path
        let text = MetricsTextfile.render(.init(report: Self.report, sync: nil, readsOK: ["tank_temp": 17, "ph": 2],
                                                board: BoardFacts(cpuTemperatureCelsius: 48.312, throttled: 0x5_0005)))
        try MetricsTextfile.write(text, to: path)
        let samples = try await Self.parse(path)
        let expected: [(String, [String: String], Double)] = [
            ("reef_edge_build_info", ["version": "1.4.0"], 1),
            ("reef_edge_health_status", ["status": "healthy"], 0),
            ("reef_edge_health_status", ["status": "degraded"], 1),
            ("reef_edge_health_status", ["status": "unhealthy"], 0),
            ("reef_edge_uptime_seconds", [:], 3_600.25),
            ("reef_edge_clock_synchronized", [:], 1),
            ("reef_edge_report_timestamp_seconds", [:], 1_764_770_000.5),
            ("reef_edge_sensor_up", ["sensor": "tank_temp"], 1),
            ("reef_edge_sensor_up", ["sensor": "ph"], 0),
            ("reef_edge_sensor_reads_total", ["sensor": "tank_temp"], 17),
            ("reef_edge_sensor_reads_total", ["sensor": "ph"], 2),
            ("reef_edge_sensor_read_errors_total", ["sensor": "ph", "kind": "noDevice"], 3),
            // A label value with quotes survives the exposition's escaping.
            ("reef_edge_sensor_read_errors_total", ["sensor": "ph", "kind": "busy \"254\""], 1),
            ("reef_edge_sensor_last_success_timestamp_seconds", ["sensor": "tank_temp"], 1_764_770_000),
            ("reef_edge_sensor_last_success_timestamp_seconds", ["sensor": "ph"], 1_764_769_880.5),
            ("reef_edge_database_bytes", [:], 1_048_576),
            ("reef_edge_backlog_rows", [:], 42),
            ("reef_edge_backlog_oldest_age_seconds", [:], 10),
            ("reef_edge_event_backlog_rows", [:], 3),
            ("reef_edge_dropped_readings_total", ["sensor": "ph", "reason": "budget-unsynced"], 7),
            ("reef_edge_sync_dead_letters", [:], 1),
            ("reef_edge_notify_sent_total", ["target": "phone"], 5),
            ("reef_edge_notify_retried_total", ["target": "phone"], 2),
            ("reef_edge_notify_dead_letters", ["target": "phone"], 1),
            ("reef_edge_notify_pending_events", ["target": "phone"], 4),
            ("reef_edge_alerts_firing", [:], 2),
            ("reef_edge_process_resident_memory_bytes", [:], 20_000_000),
            ("reef_edge_process_cpu_ratio", [:], 0.025),
            ("reef_edge_board_cpu_temperature_celsius", [:], 48.312),
            ("reef_edge_board_under_voltage", [:], 1),
            ("reef_edge_board_under_voltage_occurred", [:], 1),
            ("reef_edge_board_throttled", [:], 1),
        ]
        for (name, labels, value) in expected {
            #expect(Self.value(samples, name, labels) == value, "\(name)\(labels)")
        }
        #expect(samples.count == expected.count, "\(samples.map(\.name))")
        // Counters are typed as counters (the parser strips `_total` from the family name).
        #expect(samples.first { $0.name == "reef_edge_sensor_reads_total" }?.type == "counter")
        #expect(samples.first { $0.name == "reef_edge_backlog_rows" }?.type == "gauge")
        // Sync off: no sync counters, rather than zeros that look like a stalled sync.
        #expect(!samples.contains { $0.name.hasPrefix("reef_edge_sync_rows") })
        // The temporary file is gone: only the .prom file is in the collector's directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == ["edge_agent.prom"])
    }

    @Test func boardFactsComeFromTheThermalZoneAndTheFirmwareFlags() throws {
        let root = try TemporaryDirectory()
        func put(_ path: String, _ text: String) throws {
            let url = root.url.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        #expect(BoardFacts.read(root: root.url.path) == BoardFacts(cpuTemperatureCelsius: nil, throttled: nil))
        try put("sys/class/thermal/thermal_zone0/temp", "51540\n")
        try put("sys/devices/platform/soc/soc:firmware/get_throttled", "50000\n")
        #expect(BoardFacts.read(root: root.url.path) == BoardFacts(cpuTemperatureCelsius: 51.54, throttled: 0x5_0000))
        let text = MetricsTextfile.render(.init(report: Self.report, sync: nil, readsOK: [:], board: BoardFacts.read(root: root.url.path)))
        // Under-voltage happened since boot, not now; throttling has stopped.
        #expect(text.contains("reef_edge_board_under_voltage 0\n"))
        #expect(text.contains("reef_edge_board_under_voltage_occurred 1\n"))
        #expect(text.contains("reef_edge_board_throttled 0\n"))
        // Garbage in a sysfs file is left out, not read as a number.
        try put("sys/class/thermal/thermal_zone0/temp", "hot\n")
        #expect(BoardFacts.read(root: root.url.path).cpuTemperatureCelsius == nil)
    }

    @Test func checkConfigNamesADirectoryTheAgentCannotWrite() throws {
        let data = try TemporaryDirectory()
        var config = AgentConfig.defaults()
        config.source = "agent.yaml"
        config.dataDirectory = data.path
        config.metricsTextfile = "/nonexistent-collector/edge_agent.prom"
        #expect(StartChecks.problems(config) == [
            "agent.yaml: metrics.textfile: cannot write in /nonexistent-collector: No such file or directory; create it (node_exporter's textfile directory) and let the agent's user write there",
        ])
        config.metricsTextfile = config.dataDirectory + "/edge_agent.prom"
        #expect(StartChecks.problems(config) == [])
    }

    @Test func aPathThatNodeExporterWouldNotReadIsAConfigError() {
        #expect(AgentConfig.metricsTextfileProblem("/var/lib/node_exporter/textfile_collector/edge_agent.prom") == nil)
        #expect(AgentConfig.metricsTextfileProblem("/tmp/edge_agent.txt")
            == "'/tmp/edge_agent.txt' does not end in .prom, so node_exporter's textfile collector would never read it; name it e.g. edge_agent.prom")
    }

    /// The real daemon on simulated hardware writes the file on its health timer; the file and
    /// health.json of the same refresh agree figure for figure.
    @Test func theDaemonWritesTheFileBesideItsHealthReport() async throws {
        let directory = try TemporaryDirectory()
        let profile = directory.url.appendingPathComponent("profile.yaml")
        try DaemonTests.profile().write(to: profile, atomically: true, encoding: .utf8)
        let data = directory.url.appendingPathComponent("data").path
        let metrics = directory.url.appendingPathComponent("collector/edge_agent.prom").path
        try FileManager.default.createDirectory(atPath: directory.url.appendingPathComponent("collector").path, withIntermediateDirectories: true)
        let daemon = try Daemon(arguments: ["run", "--profile", profile.path, "--data-dir", data],
                                environment: ["EDGE_AGENT_CONFIG": "", "NOTIFY_SOCKET": "", "EDGE_AGENT_METRICS_TEXTFILE": metrics],
                                logURL: directory.url.appendingPathComponent("agent.log"))
        defer { daemon.signal(SIGKILL) }
        // The first refresh comes before any poll; wait for one where every sensor has read.
        var samples: [Sample] = []
        var report: HealthReport?
        let agreed = await Daemon.eventually(timeout: .seconds(40)) {
            guard FileManager.default.fileExists(atPath: metrics) else { return false }
            let text = (try? String(contentsOfFile: metrics, encoding: .utf8)) ?? ""
            guard let health = try? HealthFile.read(from: data + "/health.json"),
                  text.contains("reef_edge_report_timestamp_seconds \(MetricsTextfile.format(Double(health.takenAtMillis) / 1000))\n"),
                  health.sensors.count == 7, health.sensors.allSatisfy({ $0.state == .ok }) else { return false }
            report = health
            return true
        }
        #expect(agreed, "\(daemon.log)")
        samples = try await Self.parse(metrics)
        let health = try #require(report)
        #expect(Self.value(samples, "reef_edge_build_info", ["version": health.version]) == 1)
        #expect(Self.value(samples, "reef_edge_health_status", ["status": health.status.rawValue]) == 1)
        #expect(Self.value(samples, "reef_edge_database_bytes") == Double(health.databaseBytes))
        #expect(Self.value(samples, "reef_edge_backlog_rows") == Double(health.backlogRows))
        #expect(Self.value(samples, "reef_edge_alerts_firing") == 0)
        for sensor in health.sensors {
            #expect(Self.value(samples, "reef_edge_sensor_up", ["sensor": sensor.id]) == 1)
            #expect((Self.value(samples, "reef_edge_sensor_reads_total", ["sensor": sensor.id]) ?? 0) >= 1, "\(sensor.id)")
        }
        #expect(!daemon.log.contains("metrics textfile not written"), "\(daemon.log)")
    }
}
