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
        let scratch = try TemporaryDirectory("daemon-sync")
        let directory = scratch.url
        try await ServerHarness.with { server in
            let agent = AgentProcesses(server: server, directory: directory.path, overrides: ["EDGE_AGENT_SYNC_INTERVAL": "1s"])
            let data = directory.appendingPathComponent("data").path
            let profile = Built.repository.appendingPathComponent("device-profiles/reef-sim.yaml").path

            let daemon = try agent.start(["run", "--profile", profile, "--data-dir", data])
            try await Task.sleep(for: .seconds(6))
            kill(daemon.processIdentifier, SIGTERM)
            #expect(await daemon.exited() == 0)

            let push = try agent.start(["sync", "--once", "--data-dir", data])
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
