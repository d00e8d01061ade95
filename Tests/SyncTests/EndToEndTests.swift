import AlertEngine
import EdgeCore
import FleetServerTesting
import Foundation
import PostgresNIO
import Readings
import Sync
import Testing
import Wire

/// The device's stores, the real Sync engine over libcurl and TLS, the fleet server, and
/// PostgreSQL: the whole path, with an outage in the middle.
@Suite(.serialized) struct EndToEndTests {
    struct NoSensors: HealthSource {
        let startedAt: DeviceTime
        func agentHealth() -> AgentHealth { AgentHealth(version: "test", startedAt: startedAt, sensors: [], firingAlerts: 0) }
    }

    /// Readings for three sensors, stored and committed on the device.
    func device(_ directory: URL) throws -> (LocalDatabase, ReadingStore, AlertStore, [String: Int]) {
        let clock = SystemDeviceClock()
        let database = try LocalDatabase.open(path: directory.appendingPathComponent("edge.sqlite").path, clock: clock)
        let store = try ReadingStore(database: database, clock: clock)
        var counts: [String: Int] = [:]
        let start = DeviceTime(unixMillis: 1_767_225_600_000, bootNanos: 1, synchronized: true)
        for i in 0..<1_200 {
            let sensor = ["tank_temp", "ph", "room.humidity"][i % 3]
            try store.append(sensorID: sensor, value: 25 + Double(i) / 100, unit: "x", quality: .ok,
                             takenAt: DeviceTime(unixMillis: start.unixMillis + Int64(i) * 1_000, bootNanos: UInt64(i + 1), synchronized: true))
            counts[sensor, default: 0] += 1
        }
        try store.flush()
        return (database, store, try AlertStore(writer: database.writer), counts)
    }

    func engine(_ server: ServerHarness, _ directory: URL, _ database: LocalDatabase, _ store: ReadingStore,
                _ alerts: AlertStore, token: String? = nil, caFile: String? = nil, deviceID: String? = nil) throws -> SyncEngine {
        let tokenPath = directory.appendingPathComponent("token-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: tokenPath, contents: Data((token ?? server.deviceToken).utf8), attributes: [.posixPermissions: 0o600])
        let transport = try CurlTransport(configuration: .init(serverURL: server.url, token: try BearerToken.load(path: tokenPath),
                                                               caFile: caFile ?? server.certificates.ca))
        let configuration = SyncConfiguration(deviceID: deviceID ?? server.deviceName, maxBatchRows: 250,
                                              backoff: Backoff(base: .milliseconds(20), cap: .milliseconds(100)))
        return try SyncEngine(configuration: configuration, database: database, readings: store, events: alerts,
                              transport: transport, health: NoSensors(startedAt: SystemDeviceClock().now()), clock: SystemDeviceClock())
    }

    func serverCounts(_ server: ServerHarness) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        let rows = try await server.database.query("SELECT sensor_id, count(*) FROM readings GROUP BY sensor_id")
        for try await (sensor, count) in rows.decode((String, Int).self) { counts[sensor] = count }
        return counts
    }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func anOutageLosesNothingAndDuplicatesNothing() async throws {
        let directory = try temporaryDirectory()
        try await ServerHarness.with { server in
            let (database, store, alerts, deviceCounts) = try device(directory)
            let sync = try engine(server, directory, database, store, alerts)

            await server.stopServer()
            await #expect(throws: SyncError.self) { try await sync.syncOnce(maxConsecutiveFailures: 2) }
            #expect(try await serverCounts(server) == [:])
            #expect(try store.backlog(afterSequence: 0).count == 1_200)

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
        let directory = try temporaryDirectory()
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
            #expect(try store.backlog(afterSequence: 0).count == 1_200)
            #expect(try await untrusted.status().readings.ackedThrough == 0)
        }
    }
}
