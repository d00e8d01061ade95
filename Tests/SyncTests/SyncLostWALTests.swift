import EdgeCore
import EdgeTesting
import FleetServerTesting
import Foundation
import PostgresNIO
import Readings
import Sync
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The two ways a device loses the end of its SQLite WAL — `kill -9` followed by the `-wal`
/// file going missing, and a power cut (the database file as it was at one instant, without
/// its WAL) — against the real fleet server and PostgreSQL. Afterwards every reading the
/// device ever committed is either on the server with its own sensor, timestamp and value,
/// or lost with the WAL and never sent; no reading is acknowledged as a duplicate of a
/// different one (a reused sequence).
@Suite(.serialized) struct SyncLostWALTests {
    struct Key: Hashable, CustomStringConvertible {
        var store: String
        var sequence: Int64
        var description: String { "\(store.prefix(8))#\(sequence)" }
    }

    struct Value: Hashable {
        var sensor: String
        var timestampMillis: Int64
        var value: Double
    }

    /// Every reading in the database at `path`, keyed as the server keys it. The file is
    /// opened as a whole (database and WAL), like a restart would.
    static func deviceReadings(_ path: String) throws -> [Key: Value] {
        let database = try LocalDatabase.open(path: path)
        let store = try ReadingWriter(database: database, clock: SystemDeviceClock())
        var result: [Key: Value] = [:]
        var after: Int64 = 0
        while true {
            let rows = try store.queries.readings(afterSequence: after, limit: 10_000)
            guard let last = rows.last else { return result }
            for row in rows {
                result[Key(store: database.storeID, sequence: row.sequence)] =
                    Value(sensor: row.sensorID, timestampMillis: row.timestampMillis, value: row.value)
            }
            after = last.sequence
        }
    }

    static func serverReadings(_ server: ServerHarness) async throws -> [Key: Value] {
        var result: [Key: Value] = [:]
        let rows = try await server.database.query("SELECT store_id, sequence, sensor_id, ts_ms, value FROM readings")
        for try await (store, sequence, sensor, timestamp, value) in rows.decode((String, Int64, String, Int64, Double).self) {
            result[Key(store: store, sequence: sequence)] = Value(sensor: sensor, timestampMillis: timestamp, value: value)
        }
        return result
    }

    /// The property, checked reading by reading. `before` is everything committed when the
    /// WAL was lost (database and WAL, read before the loss); `sentBefore` what the server held
    /// then; `after` the device's database at the end, fully synced. Sequences of readings
    /// lost with the WAL are issued again after the restart, to new readings: that is fine as
    /// long as the lost ones never reached the server. Returns how many readings were lost.
    static func check(before: [Key: Value], sentBefore: [Key: Value], after: [Key: Value], server: [Key: Value]) -> Int {
        // What the server had acknowledged was durable on the device: it survived the loss.
        for (key, value) in sentBefore {
            #expect(after[key] == value, "the server acknowledged \(key) = \(value), which the device lost and reissued as \(after[key].map { "\($0)" } ?? "nothing")")
        }
        // Every reading the device holds now is on the server with its own values.
        for (key, value) in after {
            #expect(server[key] == value, "\(key) is \(value) on the device but \(server[key].map { "\($0)" } ?? "missing") on the server")
        }
        // The server holds nothing the device never committed.
        for (key, stored) in server {
            #expect(after[key] == stored || before[key] == stored, "the server holds \(stored) for \(key), which the device never committed")
        }
        // The rest of what was committed before the loss is lost, and not on the server.
        let lost = before.filter { after[$0.key] != $0.value }
        for (key, value) in lost {
            #expect(server[key] != value, "\(key) = \(value) is on the server but lost on the device")
        }
        return lost.count
    }

    /// The system clocks, reported synchronised: this machine's kernel clock may not be, and
    /// the engine would then hold every reading for `clockHold` (10 min).
    struct SynchronizedClock: DeviceClock {
        let system = SystemDeviceClock()
        var bootID: String { system.bootID }
        func now() -> DeviceTime {
            var now = system.now()
            now.synchronized = true
            return now
        }
        func sleep(for duration: Duration) async throws { try await system.sleep(for: duration) }
    }

    static func engine(_ server: ServerHarness, _ directory: String, _ database: LocalDatabase, _ store: ReadingWriter) throws -> SyncEngine {
        let tokenPath = directory + "/token"
        FileManager.default.createFile(atPath: tokenPath, contents: Data(server.deviceToken.utf8), attributes: [.posixPermissions: 0o600])
        let transport = try CurlTransport(configuration: .init(serverURL: server.url, token: try BearerToken.load(path: tokenPath),
                                                               caFile: server.certificates.ca))
        let configuration = SyncConfiguration(deviceID: server.deviceName, maxBatchRows: 40, idleInterval: .milliseconds(20),
                                              backoff: Backoff(base: .milliseconds(20), cap: .milliseconds(100)))
        return try SyncEngine(configuration: configuration, database: database, readings: store.queries, events: nil,
                              transport: transport, health: FixedHealth(), clock: SynchronizedClock())
    }

    /// Readings with values unique to this run and its phase.
    static func append(_ store: ReadingWriter, phase: Int, index: Int) throws {
        try store.append(Sample(sensorID: ["tank", "ph", "orp"][index % 3], value: Double(phase * 1_000_000 + index) / 8, unit: "x",
                         quality: .ok, time: SynchronizedClock().now()))
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func aPowerCutThatLosesTheWALLosesNoAcknowledgedReading(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let liveDirectory = try TemporaryDirectory("power-cut-live")
        let live = liveDirectory.path
        let restoredDirectory = try TemporaryDirectory("power-cut-restored")
        let restored = restoredDirectory.path
        let truthDirectory = try TemporaryDirectory("power-cut-truth")
        let truth = truthDirectory.path
        try await ServerHarness.with { server in
            let database = try LocalDatabase.open(path: live + "/edge.sqlite")
            let store = try ReadingWriter(database: database, clock: SynchronizedClock(),
                                         commit: GroupCommitPolicy(interval: .milliseconds(20), maxRows: 64, checkpointInterval: .milliseconds(300)))
            let sync = try Self.engine(server, live, database, store)
            let committer = Task { try await store.run() }
            let syncing = Task { try await sync.run() }
            let appending = Task {
                var index = 0
                while !Task.isCancelled {
                    try Self.append(store, phase: 1, index: index)
                    index += 1
                    try await Task.sleep(for: .milliseconds(2))
                }
            }
            // The cut, at a seeded instant: nothing happens on the device after it. Sync is
            // stopped first (a transfer in flight is abandoned), then the committer (which
            // commits and checkpoints as it stops); the last readings are committed into the
            // WAL alone, as a group commit between checkpoints is. Then the database file as
            // it is on disk, without its WAL, and for the check everything committed (file and
            // WAL), both taken on the writer's queue so that no checkpoint is half-way through.
            let synced = ContinuousClock.now
            while try await Self.serverReadings(server).isEmpty, ContinuousClock.now - synced < .seconds(30) {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(Int64.random(in: 200...1_500, using: &random)))
            syncing.cancel()
            _ = await syncing.result
            let sentBefore = try await Self.serverReadings(server)
            appending.cancel()
            committer.cancel()
            _ = await appending.result
            _ = await committer.result
            for index in 0..<10 { try Self.append(store, phase: 3, index: index) }
            try store.flush()
            try await database.writer.writeWithoutTransaction { _ in
                try FileManager.default.copyItem(atPath: live + "/edge.sqlite", toPath: restored + "/edge.sqlite")
                try FileManager.default.copyItem(atPath: live + "/edge.sqlite", toPath: truth + "/edge.sqlite")
                try FileManager.default.copyItem(atPath: live + "/edge.sqlite-wal", toPath: truth + "/edge.sqlite-wal")
            }
            let before = try Self.deviceReadings(truth + "/edge.sqlite")

            // Power is back: the device starts from what the file held, and goes on.
            let database2 = try LocalDatabase.open(path: restored + "/edge.sqlite")
            let store2 = try ReadingWriter(database: database2, clock: SynchronizedClock())
            for index in 0..<300 { try Self.append(store2, phase: 2, index: index) }
            try store2.flush()
            _ = try await Self.engine(server, restored, database2, store2).syncOnce()

            let after = try Self.deviceReadings(restored + "/edge.sqlite")
            let onServer = try await Self.serverReadings(server)
            let lost = Self.check(before: before, sentBefore: sentBefore, after: after, server: onServer)
            #expect(sentBefore.count > 0, "nothing was synced before the cut; the case is not exercised")
            #expect(lost >= 10, "the WAL held less than the last commit; the case is not exercised")
            #expect(onServer.count == after.count)
            print("power cut (seed \(seed)): \(before.count) committed, \(sentBefore.count) on the server at the cut, \(lost) lost with the WAL, \(after.count) on the device after")
        }
    }

    static let profile = """
        name: lost-wal
        buses:
          - { id: i2c, kind: i2c, simulated: true }
          - { id: w1, kind: w1, simulated: true }
        sensors:
          - { id: tank_temp, driver: ds18b20, bus: w1, slave: 28-0000075a1b2c, interval: 100ms,
              simulation: { temperature: { sine: { mean: 25, amplitude: 1, period: 7s } } } }
          - { id: ph, driver: ezo_ph, bus: i2c, interval: 100ms, simulation: { ph: { ramp: { start: 7, per_second: 0.01 } } } }
        """

    @Test func killNineAndADeletedWALLoseNoAcknowledgedReading() async throws {
        var random = SeededRandom(seed: 11)
        let directoryDirectory = try TemporaryDirectory("kill-nine")
        let directory = directoryDirectory.path
        let data = directory + "/data"
        let truthDirectory = try TemporaryDirectory("kill-nine-truth")
        let truth = truthDirectory.path
        try await ServerHarness.with { server in
            try Self.profile.write(toFile: directory + "/profile.yaml", atomically: true, encoding: .utf8)
            let agent = AgentProcesses(server: server, directory: directory, overrides: ["EDGE_AGENT_SYNC_INTERVAL": "1s"])
            func daemon() throws -> Process {
                try agent.start(["run", "--profile", directory + "/profile.yaml", "--data-dir", data])
            }

            func pushOnce() async throws -> Int32 {
                await (try agent.start(["sync", "--once", "--data-dir", data])).exited()
            }

            // This machine's clock may be unsynchronised, and the daemon would then hold every
            // reading for 10 minutes: `sync --once` (the same engine, without the hold) sends
            // what the daemon commits, again and again, until the kill.
            let first = try daemon()
            let database = data + "/edge-agent.sqlite"
            let started = ContinuousClock.now
            while !FileManager.default.fileExists(atPath: database), ContinuousClock.now - started < .seconds(30) {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(500))
            let killAt = ContinuousClock.now + .milliseconds(Int64.random(in: 3_000...4_500, using: &random))
            while ContinuousClock.now < killAt {
                #expect(try await pushOnce() == 0)
                try await Task.sleep(for: .milliseconds(100))
            }
            // Commits after the last checkpoint, in the WAL alone (group commits every 250 ms).
            try await Task.sleep(for: .milliseconds(600))
            kill(first.processIdentifier, SIGKILL)
            _ = await first.exited()
            try FileManager.default.copyItem(atPath: database, toPath: truth + "/edge.sqlite")
            try FileManager.default.copyItem(atPath: database + "-wal", toPath: truth + "/edge.sqlite-wal")
            let before = try Self.deviceReadings(truth + "/edge.sqlite")
            let sentBefore = try await Self.serverReadings(server)
            try FileManager.default.removeItem(atPath: database + "-wal")
            try? FileManager.default.removeItem(atPath: database + "-shm")

            let second = try daemon()
            try await Task.sleep(for: .seconds(3))
            kill(second.processIdentifier, SIGTERM)
            #expect(await second.exited() == 0)
            #expect(try await pushOnce() == 0)

            let after = try Self.deviceReadings(database)
            let onServer = try await Self.serverReadings(server)
            let lost = Self.check(before: before, sentBefore: sentBefore, after: after, server: onServer)
            #expect(sentBefore.count > 0, "nothing was synced before the kill; the case is not exercised")
            #expect(onServer.count == after.count)
            print("kill -9: \(before.count) committed, \(sentBefore.count) on the server at the kill, \(lost) lost with the WAL, \(after.count) on the device after")
        }
    }
}
