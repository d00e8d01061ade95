import AlertEngine
import EdgeCore
import EdgeTesting
import Foundation
import GRDB
import Logging
import Readings
import Testing
@testable import edge_agent
#if canImport(Glibc)
import Glibc
#endif

/// Files of the data directory with bytes and modification time, `-shm` left out: SQLite's
/// shared-memory index is written by readers too (their read marks), by design.
private func snapshot(_ directory: String) throws -> [String: Data] {
    var files: [String: Data] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
        let path = directory + "/" + name
        let modified = (try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        files[name] = name.hasSuffix("-shm") ? Data() : (FileManager.default.contents(atPath: path) ?? Data()) + Data("\(modified)".utf8)
    }
    return files
}

/// The reading buffer while the database cannot be opened, in-process.
@Suite struct StorageSupervisorTests {
    @Test func readingsHeldWhileDownAreBoundedCountedAndLandWhenStorageIsBack() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("storage-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = AgentConfig.defaults()
        config.dataDirectory = directory
        let paths = DataPaths(config)
        // A directory where the database file should be: SQLite cannot open it, even as root.
        try FileManager.default.createDirectory(atPath: paths.database, withIntermediateDirectories: true)
        let clock = ManualDeviceClock()
        let storage = StorageSupervisor(paths: paths, clock: clock, logger: Logger(label: "test"))

        storage.start()
        #expect(storage.stores == nil)
        let cap = StorageSupervisor.memoryCap
        for i in 0..<(cap + 5) {
            try storage.append(Sample(sensorID: "tank", value: Double(i), unit: "°C", quality: .ok,
                                      time: DeviceTime(unixMillis: 1_000 + Int64(i), bootNanos: 1, synchronized: true)))
        }
        #expect(storage.problems() == [
            "storage is down: cannot open \(paths.database): unable to open database file; "
                + "\(cap) readings held in memory (at most \(cap)), 5 not kept",
        ])
        #expect(try storage.alertStore().database == nil)

        try FileManager.default.removeItem(atPath: paths.database)
        storage.start()

        let stores = try #require(storage.stores)
        try stores.readings.flush()
        let kept = try stores.readings.queries.readings(afterSequence: 0, limit: ReadingQueries.maxLimit)
        #expect(kept.count == cap)
        #expect(kept.first?.value == 0)
        #expect(kept.last?.value == Double(cap - 1))
        #expect(kept.last?.timestampMillis == 1_000 + Int64(cap - 1))
        #expect(try stores.readings.queries.dropCounts() == [
            DropCount(sensorID: "tank", reason: .storageDown, count: 5, firstMillis: 1_000 + Int64(cap), lastMillis: 1_000 + Int64(cap + 4)),
        ])
        #expect(storage.problems() == [])
        #expect(try storage.alertStore().database === stores.database)
    }
}

extension StorageSupervisorTests {
    /// Commits that start failing while running: storage is down with the reason, readings
    /// wait in the store's buffer, and land when a retry (every 5 s) commits again.
    @Test func commitsThatFailLeaveStorageDownUntilARetryWorks() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("storage-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = AgentConfig.defaults()
        config.dataDirectory = directory
        let storage = StorageSupervisor(paths: DataPaths(config), clock: SystemDeviceClock(), logger: Logger(label: "test"))
        storage.start()
        let stores = try #require(storage.stores)
        let running = Task { await storage.run() }
        defer { running.cancel() }
        // query_only makes every write on the writer connection fail with SQLITE_READONLY.
        try await stores.database.writer.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = 1") }
        let clock = SystemDeviceClock()
        for i in 0..<10 { try storage.append(Sample(sensorID: "tank", value: Double(i), unit: "°C", quality: .ok, time: clock.now())) }

        // The group-commit timer and the 5 s retry both run on a loaded test machine: allow three retries.
        #expect(await Daemon.eventually(timeout: .seconds(15)) {
            storage.problems() == ["storage is down: committing readings failed: attempt to write a readonly database; "
                                   + "10 readings held in memory (at most 8192), 0 not kept"]
        }, "\(storage.problems())")
        #expect(try stores.readings.queries.readings(afterSequence: 0, limit: 100).isEmpty)

        try await stores.database.writer.writeWithoutTransaction { try $0.execute(sql: "PRAGMA query_only = 0") }

        #expect(await Daemon.eventually(timeout: .seconds(12)) { storage.problems().isEmpty }, "\(storage.problems())")
        #expect(try stores.readings.queries.readings(afterSequence: 0, limit: 100).map(\.value) == (0..<10).map(Double.init))
        #expect(storage.stores?.database === stores.database)
    }
}

/// The real daemon and CLI on a database that is damaged, missing or cannot be opened.
@Suite(.serialized) struct StorageDaemonTests {
    let directory: URL
    var data: String { directory.appendingPathComponent("data").path }
    var database: String { data + "/edge-agent.sqlite" }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("storage-daemon-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Fast constant sensors; the leak switch reads wet, so its rule fires and switches the
    /// heater relay off as soon as the first reading is evaluated.
    static let profile = """
        name: storage-test
        buses:
          - { id: i2c, kind: i2c, simulated: true }
          - { id: gpio, kind: gpio, simulated: true }
          - { id: w1, kind: w1, simulated: true }
        sensors:
          - { id: tank_temp, driver: ds18b20, bus: w1, slave: 28-0000075a1b2c, interval: 100ms,
              simulation: { temperature: { constant: 25.5 } } }
          - { id: leak, driver: leak_switch, bus: gpio, line: GPIO27, interval: 100ms, simulation: { wet: { constant: 1 } } }
        outputs:
          - { id: heater_relay, bus: gpio, line: GPIO5, normal: on, fail_safe: off }
        alerts:
          - { id: leak, sensor: leak, switch: wet, severity: critical, action: { output: heater_relay, state: off } }
        """

    func start(config: String = "", log: String = "agent.log") throws -> Daemon {
        let path = directory.appendingPathComponent("profile.yaml")
        try Self.profile.write(to: path, atomically: true, encoding: .utf8)
        return try Daemon(arguments: ["run", "--profile", path.path, "--data-dir", data],
                          environment: ["EDGE_AGENT_CONFIG": config, "NOTIFY_SOCKET": ""],
                          logURL: directory.appendingPathComponent(log))
    }

    /// Overwrites the first `count` leaves of the readings table (the oldest rows) with 0xFF.
    func damageOldestLeaves(_ count: Int) async throws {
        var readOnly = Configuration()
        readOnly.readonly = true
        let victims = try await DatabaseQueue(path: database, configuration: readOnly).read { db in
            try Int.fetchAll(db, sql: "SELECT pageno FROM dbstat WHERE name = 'readings' AND pagetype = 'leaf' ORDER BY path LIMIT ?",
                             arguments: [count])
        }
        #expect(victims.count == count)
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: database))
        for page in victims {
            try file.seek(toOffset: UInt64((page - 1) * 4096))
            try file.write(contentsOf: Data(repeating: 0xFF, count: 4096))
        }
        try file.close()
    }

    func movedAside() throws -> String? {
        try FileManager.default.contentsOfDirectory(atPath: data).first { $0.hasSuffix("Z") && $0.contains(".corrupt-") }
            .map { data + "/" + $0 }
    }

    func cli(_ arguments: [String]) throws -> Command.Output {
        try AgentBinary.run(arguments + ["--data-dir", data], environment: ["EDGE_AGENT_CONFIG": ""])
    }

    func rows() throws -> [[String: Any]] {
        let out = try cli(["readings", "dump", "--format", "json"])
        guard out.status == 0 else { return [] }
        return try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]] ?? []
    }

    func health() -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: data + "/health.json") else { return [:] }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    func reasons() -> [String] { health()["reasons"] as? [String] ?? [] }

    @Test func readOnlyCommandsLeaveTheDatabaseByteIdentical() async throws {
        let daemon = try start()
        #expect(try await Daemon.eventually(timeout: .seconds(30)) { try rows().count >= 20 }, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")
        let before = try snapshot(data)

        let dump = try cli(["readings", "dump", "--format", "csv"])
        let stats = try cli(["readings", "stats"])

        #expect(dump.status == 0, "\(dump.stderr)")
        #expect(stats.status == 0, "\(stats.stderr)")
        let count = try rows().count
        #expect(dump.stdout.split(separator: "\n").count == count + 1)
        #expect(try snapshot(data) == before)
    }

    @Test func readingsDumpOnADamagedFileSaysSoAndMovesNothing() throws {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: database))
        let before = try snapshot(data)

        let out = try cli(["readings", "dump"])

        #expect(out.status == 1)
        #expect(out.stderr == "Error: \(database) is damaged (file is not a database); it was left as it is: stop the daemon and run `edge-agent run` to quarantine it, or copy it elsewhere to salvage\n")
        #expect(try snapshot(data) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: data) == ["edge-agent.sqlite"])
    }

    /// Commands that write (alert acknowledgements) leave a damaged file to the daemon too.
    @Test func alertCommandsOnADamagedFileMoveNothing() throws {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: database))
        let profile = directory.appendingPathComponent("profile.yaml")
        try Self.profile.write(to: profile, atomically: true, encoding: .utf8)
        let before = try snapshot(data)

        let out = try AgentBinary.run(["alerts", "ack", "leak", "--data-dir", data],
                                      environment: ["EDGE_AGENT_CONFIG": "", "EDGE_AGENT_PROFILE": profile.path])

        #expect(out.status == 1)
        #expect(out.stderr == "Error: \(database) is damaged (file is not a database); it was left as it is: stop the daemon and run `edge-agent run` to quarantine it, or copy it elsewhere to salvage\n")
        #expect(try snapshot(data) == before)
    }

    @Test func readingsDumpWithoutADatabaseCreatesNone() throws {
        let out = try cli(["readings", "stats"])
        #expect(out.status == 1)
        #expect(out.stderr == "Error: no database at \(database): has `edge-agent run` run with this data directory? (use --data-dir or --config)\n")
        #expect(!FileManager.default.fileExists(atPath: data))
    }

    @Test func aPageDamagedWhileRunningIsQuarantinedAndANewStoreTakesTheReadings() async throws {
        let daemon = try start()
        // Old leaves of the readings table are written once, then only read: wait until a
        // few are full and checkpointed, so the garbage below is not overwritten by the WAL.
        #expect(try await Daemon.eventually(timeout: .seconds(60)) { try rows().count >= 600 }, "\(daemon.log)")
        try await Task.sleep(for: .seconds(6))
        try await damageOldestLeaves(2)

        #expect(try await Daemon.eventually(timeout: .seconds(30)) { try movedAside() != nil }, "\(daemon.log)")
        let moved = try #require(try movedAside())
        #expect(await Daemon.eventually(timeout: .seconds(5)) { daemon.log.contains("database damaged; moved it aside and started a new store") })

        // Health is unhealthy with the reason, and new readings land in a new store.
        let told = "and moved to \(moved); export it with `edge-agent readings salvage \(moved)`, then run `edge-agent storage ack`"
        #expect(try await Daemon.eventually(timeout: .seconds(15)) {
            health()["status"] as? String == "unhealthy" && reasons().contains { $0.hasPrefix("database was damaged (") && $0.hasSuffix(told) }
        }, "\(reasons())")
        #expect(reasons().contains { $0.contains("database disk image is malformed") }, "\(reasons())")
        #expect(try await Daemon.eventually(timeout: .seconds(15)) { try rows().count >= 20 }, "\(daemon.log)")
        #expect(Set(try rows().compactMap { $0["value"] as? Double }) == [25.5, 1])
        #expect(daemon.process.isRunning)

        // What could be read from the old file is exported; the damaged range is named.
        let salvage = try AgentBinary.run(["readings", "salvage", moved])
        #expect(salvage.status == 0, "\(salvage.stderr)")
        let salvaged = salvage.stdout.split(separator: "\n")
        #expect(salvaged.count >= 300)
        #expect(salvage.stderr.hasPrefix("salvaged \(salvaged.count) readings from \(moved); unreadable (damaged) sequences: 1-"), "\(salvage.stderr)")

        // Acknowledged: no longer unhealthy for it.
        let ack = try cli(["storage", "ack"])
        #expect(ack.stdout == "acknowledged \(moved)\nthe moved files stay where they are; delete them when you no longer need them\n")
        #expect(try cli(["storage", "ack"]).stdout == "no damaged database waiting for acknowledgement\n")
        #expect(await Daemon.eventually(timeout: .seconds(15)) { health()["status"] as? String == "healthy" }, "\(reasons())")

        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")
    }

    @Test func aDatabaseThatCannotBeOpenedLeavesPollingAndAlertingRunning() async throws {
        // The database path is a directory: SQLite cannot open it, whoever runs the agent.
        try FileManager.default.createDirectory(atPath: database, withIntermediateDirectories: true)
        let daemon = try start()

        let down = "storage is down: cannot open \(database): unable to open database file; "
        #expect(await Daemon.eventually(timeout: .seconds(20)) {
            health()["status"] as? String == "unhealthy" && reasons().first?.hasPrefix(down) == true
                && health()["firingAlerts"] as? Int == 1
        }, "\(health())")
        // The rule fired and drove the relay although nothing could be stored.
        #expect(daemon.log.contains("alert event kind=fired message=leak reads 1 rule=leak"), "\(daemon.log)")
        #expect(daemon.log.contains("alert event kind=actuated message=heater_relay off (rule leak fired) rule=leak"), "\(daemon.log)")
        try await Task.sleep(for: .seconds(2))
        let heldBefore = try #require(reasons().first.flatMap { reason -> Int? in
            guard let range = reason.range(of: down) else { return nil }
            return Int(reason[range.upperBound...].prefix { $0.isNumber })
        })
        #expect(heldBefore >= 10)
        let fixedAt = Date()

        try FileManager.default.removeItem(atPath: database)

        #expect(try await Daemon.eventually(timeout: .seconds(20)) { try rows().count >= heldBefore }, "\(daemon.log)")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let takenWhileDown = try rows().filter { row in
            (row["time"] as? String).flatMap(formatter.date(from:)).map { $0 < fixedAt } ?? false
        }
        #expect(takenWhileDown.count >= heldBefore)
        #expect(Set(takenWhileDown.compactMap { $0["value"] as? Double }) == [25.5, 1])
        #expect(daemon.log.contains("storage is back"))
        #expect(await Daemon.eventually(timeout: .seconds(15)) { health()["status"] as? String == "healthy" }, "\(reasons())")

        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")
    }

    @Test func anUnreadableFileAtStartIsQuarantinedAndReportedUntilAcknowledged() async throws {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let garbage = Data(repeating: 0x5A, count: 8192)
        try garbage.write(to: URL(fileURLWithPath: database))
        let daemon = try start()

        #expect(try await Daemon.eventually(timeout: .seconds(20)) { try rows().count >= 10 }, "\(daemon.log)")
        let moved = try #require(try movedAside())
        #expect(FileManager.default.contents(atPath: moved) == garbage)
        #expect(await Daemon.eventually(timeout: .seconds(15)) {
            reasons() == ["database was damaged (found unreadable at start) and moved to \(moved); export it with "
                          + "`edge-agent readings salvage \(moved)`, then run `edge-agent storage ack`"]
                && health()["status"] as? String == "unhealthy"
        }, "\(health())")
        let listed = try cli(["storage", "quarantined", "--format", "csv"])
        #expect(listed.stdout.hasSuffix(",\(moved),found unreadable at start\n"), "\(listed.stdout)")

        #expect(try cli(["storage", "ack"]).status == 0)
        #expect(await Daemon.eventually(timeout: .seconds(15)) { health()["status"] as? String == "healthy" }, "\(reasons())")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")
    }

    /// Sync on a database with a damaged page used to make every start exit.
    @Test func syncOnADamagedDatabaseNoLongerStopsTheDaemon() async throws {
        let first = try start(log: "first.log")
        #expect(try await Daemon.eventually(timeout: .seconds(60)) { try rows().count >= 400 }, "\(first.log)")
        first.signal(SIGTERM)
        #expect(await first.wait(timeout: .seconds(10)) == 0, "\(first.log)")
        try await damageOldestLeaves(2)

        let token = directory.appendingPathComponent("token").path
        try "device-token".write(toFile: token, atomically: true, encoding: .utf8)
        #expect(chmod(token, 0o600) == 0)
        let config = directory.appendingPathComponent("agent.yaml").path
        // Nothing listens on port 1: sync fails, which must not matter.
        try "sync:\n  url: https://127.0.0.1:1\n  token_file: \(token)\n".write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try start(config: config)

        #expect(try await Daemon.eventually(timeout: .seconds(30)) { try movedAside() != nil }, "\(daemon.log)")
        #expect(await Daemon.eventually(timeout: .seconds(15)) {
            reasons().contains { $0.hasPrefix("database was damaged (") && $0.contains("database disk image is malformed") }
        }, "\(reasons())")
        #expect(try await Daemon.eventually(timeout: .seconds(15)) { try rows().count >= 10 }, "\(daemon.log)")
        #expect(daemon.process.isRunning, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")
    }
}

/// `alerts active` and `alerts history` can read through a read-only open.
@Suite struct ReadOnlyAlertStoreTests {
    @Test func anAlertStoreOpensOnAReadOnlyDatabaseTheDaemonMigrated() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ro-alerts-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/edge-agent.sqlite"
        let written = try LocalDatabase.open(path: path)
        _ = try AlertStore(writer: written.writer)
        try written.writer.close()
        let before = FileManager.default.contents(atPath: path)

        let store = try AlertStore(writer: try LocalDatabase.openReadOnly(path: path).writer)

        #expect(try store.active() == [])
        #expect(FileManager.default.contents(atPath: path) == before)
    }
}
