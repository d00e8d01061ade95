import AlertEngine
import EdgeCore
import EdgeTesting
import FleetServerTesting
import Foundation
import PostgresNIO
import Readings
import Sync
import Testing
import Wire
@testable import edge_agent

/// The device's stores, the real Sync engine over libcurl and TLS, the fleet server, and
/// PostgreSQL: the whole path, with an outage in the middle.
@Suite(.serialized) struct EndToEndTests {
    /// Readings for three sensors, stored and committed on the device.
    func device(_ directory: URL) throws -> (LocalDatabase, ReadingWriter, AlertStore, [String: Int]) {
        let clock = SystemDeviceClock()
        let database = try LocalDatabase.open(path: directory.appendingPathComponent("edge.sqlite").path, clock: clock)
        let store = try ReadingWriter(database: database, clock: clock)
        var counts: [String: Int] = [:]
        let start = DeviceTime(unixMillis: 1_767_225_600_000, bootNanos: 1, synchronized: true)
        for i in 0..<1_200 {
            let sensor = ["tank_temp", "ph", "room.humidity"][i % 3]
            try store.append(Sample(sensorID: sensor, value: 25 + Double(i) / 100, unit: "x", quality: .ok,
                             time: DeviceTime(unixMillis: start.unixMillis + Int64(i) * 1_000, bootNanos: UInt64(i + 1), synchronized: true)))
            counts[sensor, default: 0] += 1
        }
        try store.flush()
        return (database, store, try AlertStore(writer: database.writer), counts)
    }

    func engine(_ server: ServerHarness, _ directory: URL, _ database: LocalDatabase, _ store: ReadingWriter,
                _ alerts: AlertStore, token: String? = nil, caFile: String? = nil, deviceID: String? = nil) throws -> SyncEngine {
        let tokenPath = directory.appendingPathComponent("token-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: tokenPath, contents: Data((token ?? server.deviceToken).utf8), attributes: [.posixPermissions: 0o600])
        let transport = try CurlTransport(configuration: .init(serverURL: server.url, token: try BearerToken.load(path: tokenPath),
                                                               caFile: caFile ?? server.certificates.ca))
        let configuration = SyncConfiguration(deviceID: deviceID ?? server.deviceName, maxBatchRows: 250,
                                              backoff: Backoff(base: .milliseconds(20), cap: .milliseconds(100)))
        return try SyncEngine(configuration: configuration, database: database, readings: store.queries, events: AlertEventFeed(store: alerts),
                              transport: transport, health: FixedHealth(), clock: SystemDeviceClock())
    }

    func serverCounts(_ server: ServerHarness) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        let rows = try await server.database.query("SELECT sensor_id, count(*) FROM readings GROUP BY sensor_id")
        for try await (sensor, count) in rows.decode((String, Int).self) { counts[sensor] = count }
        return counts
    }

    @Test func anOutageLosesNothingAndDuplicatesNothing() async throws {
        let temporary = try TemporaryDirectory("e2e")
        let directory = temporary.url
        try await ServerHarness.with { server in
            let (database, store, alerts, deviceCounts) = try device(directory)
            let sync = try engine(server, directory, database, store, alerts)

            await server.stopServer()
            await #expect(throws: SyncError.self) { try await sync.syncOnce(maxConsecutiveFailures: 2) }
            #expect(try await serverCounts(server) == [:])
            #expect(try store.queries.backlog(afterSequence: 0).count == 1_200)

            try await server.startServer()
            let progress = try await sync.syncOnce()
            #expect(progress.rowsSent == 1_200)
            #expect(progress.rowsRemaining == 0)
            #expect(try await serverCounts(server) == deviceCounts)

            // Sending again stores nothing twice.
            _ = try await sync.syncOnce()
            #expect(try await serverCounts(server) == deviceCounts)
            #expect(try await sync.status().readings.ackedThrough == 1_200)
        }
    }

    @Test func rejectedCredentialsAndCertificatesKeepTheData() async throws {
        let temporary = try TemporaryDirectory("e2e")
        let directory = temporary.url
        try await ServerHarness.with { server in
            let (database, store, alerts, _) = try device(directory)

            let wrongToken = try engine(server, directory, database, store, alerts, token: "not-the-token")
            await #expect(throws: SyncError.self) { try await wrongToken.syncOnce(maxConsecutiveFailures: 1) }
            #expect(try await wrongToken.status().lastError?.contains("401") == true)

            let otherDevice = try engine(server, directory, database, store, alerts, deviceID: "someone-else")
            await #expect(throws: SyncError.self) { try await otherDevice.syncOnce(maxConsecutiveFailures: 1) }
            #expect(try await otherDevice.status().lastError?.contains("403") == true)

            let untrusted = try engine(server, directory, database, store, alerts, caFile: server.certificates.untrustedCA)
            await #expect(throws: SyncError.self) { try await untrusted.syncOnce(maxConsecutiveFailures: 1) }
            #expect(try await untrusted.status().lastError?.contains("tls") == true)

            #expect(try await serverCounts(server) == [:])
            #expect(try store.queries.backlog(afterSequence: 0).count == 1_200)
            #expect(try await untrusted.status().readings.ackedThrough == 0)
        }
    }

    /// Switches nothing; the engine only needs somewhere to drive its outputs.
    struct Relays: AlertOutputs {
        func set(_ output: String, on: Bool) throws {}
    }

    /// Every field of every event, `silenced` and `output` included, from the device's
    /// alert store through Sync to PostgreSQL: the server can tell which events must not
    /// wake anyone.
    @Test func alertEventsReachPostgreSQLWhole() async throws {
        let temporary = try TemporaryDirectory("e2e")
        let directory = temporary.url
        try await ServerHarness.with { server in
            let clock = ManualDeviceClock()
            let database = try LocalDatabase.open(path: directory.appendingPathComponent("edge.sqlite").path, clock: clock)
            let store = try ReadingWriter(database: database, clock: clock)
            let alerts = try AlertStore(writer: database.writer)
            let hot = AlertRule(id: "tank-hot", sensorID: "tank_temp", condition: .threshold(op: .greater, value: 28, clear: nil),
                                severity: .critical, description: "Tank at {value} °C", action: .init(output: "heater", state: false))
            let alertEngine = try AlertEngine(rules: [hot], store: alerts, clock: clock,
                                         outputs: ["heater": OutputPolicy(normal: true, failSafe: false)], driver: Relays())
            _ = try alertEngine.silence(ruleID: "tank-hot", until: clock.now().unixMillis + 3_600_000)
            clock.advance(by: .seconds(1))
            _ = try alertEngine.evaluate(Sample(sensorID: "tank_temp", value: 28.5, unit: "°C", quality: .ok, time: clock.now()))
            clock.advance(by: .seconds(1))
            try alertEngine.failSafe()
            let device = try alerts.events(afterSequence: 0, limit: 100)
            #expect(device.map { "\($0.kind.rawValue) silenced=\($0.silenced) output=\($0.output ?? "-")" } == [
                "actuated silenced=false output=heater",  // start-up: the heater to its normal state
                "silenced silenced=false output=-",
                "fired silenced=true output=-",
                "actuated silenced=false output=heater",
                "failSafe silenced=false output=heater",
            ])

            _ = try await engine(server, directory, database, store, alerts).syncOnce()

            let rows = try await server.database.query("""
                SELECT sequence, rule_id, sensor_id, kind, severity, value, threshold, ts_ms, active_since_ms, message, silenced, output
                FROM alert_events ORDER BY sequence
                """)
            var stored: [AlertEvent] = []
            for try await row in rows {
                let (sequence, rule, sensor, kind, severity, value, threshold, ts, since, message, silenced, output) =
                    try row.decode((Int64, String, String, String, String, Double?, Double?, Int64, Int64?, String, Bool, String?).self)
                stored.append(AlertEvent(
                    sequence: sequence, ruleID: rule, sensorID: sensor, kind: try #require(AlertEvent.Kind(rawValue: kind)),
                    severity: try #require(Severity(rawValue: severity)), value: value, threshold: threshold, timestampMillis: ts,
                    activeSinceMillis: since, message: message, silenced: silenced, output: output))
            }
            #expect(stored == device)
        }
    }
}
