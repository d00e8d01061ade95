import EdgeTesting
import EdgeCore
import FleetServerTesting
import Foundation
import PostgresNIO
import Readings
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `edge-agent run` on reef-sim.yaml, configured for the fleet server, then `edge-agent sync
/// --once`: PostgreSQL ends up with exactly the readings the device stored, per sensor.
@Suite(.serialized) struct DaemonSyncTests {

    @Test func reefSimDaemonSyncsEveryStoredReadingOnce() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-sync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await ServerHarness.with { server in
            let tokenPath = directory.appendingPathComponent("token").path
            FileManager.default.createFile(atPath: tokenPath, contents: Data(server.deviceToken.utf8), attributes: [.posixPermissions: 0o600])
            var environment = ProcessInfo.processInfo.environment
            environment["EDGE_AGENT_CONFIG"] = ""
            environment["EDGE_AGENT_DEVICE_ID"] = server.deviceName
            environment["EDGE_AGENT_SYNC_URL"] = server.url
            environment["EDGE_AGENT_SYNC_TOKEN_FILE"] = tokenPath
            environment["EDGE_AGENT_SYNC_CA_FILE"] = server.certificates.ca
            environment["EDGE_AGENT_SYNC_INTERVAL"] = "1s"
            let data = directory.appendingPathComponent("data").path
            let profile = Built.repository.appendingPathComponent("device-profiles/reef-sim.yaml").path

            let daemon = Process()
            daemon.executableURL = Built.product("edge-agent")
            daemon.arguments = ["run", "--profile", profile, "--data-dir", data]
            daemon.environment = environment
            daemon.standardError = FileHandle.nullDevice
            try daemon.run()
            try await Task.sleep(for: .seconds(6))
            kill(daemon.processIdentifier, SIGTERM)
            #expect(await daemon.exited() == 0)

            let push = Process()
            push.executableURL = Built.product("edge-agent")
            push.arguments = ["sync", "--once", "--data-dir", data]
            push.environment = environment
            push.standardError = FileHandle.nullDevice
            push.standardOutput = FileHandle.nullDevice
            try push.run()
            #expect(await push.exited() == 0)

            let database = try LocalDatabase.open(path: data + "/edge-agent.sqlite")
            let store = try ReadingWriter(database: database, clock: SystemDeviceClock())
            var device: [String: Int] = [:]
            for reading in try store.queries.readings(afterSequence: 0, limit: 100_000) { device[reading.sensorID, default: 0] += 1 }
            var fleet: [String: Int] = [:]
            let rows = try await server.database.query("SELECT sensor_id, count(*) FROM readings GROUP BY sensor_id")
            for try await (sensor, count) in rows.decode((String, Int).self) { fleet[sensor] = count }
            #expect(device.count >= 10, "\(device)")
            #expect(fleet == device)
        }
    }
}
