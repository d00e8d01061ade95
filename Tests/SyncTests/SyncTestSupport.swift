import AlertEngine
import EdgeCore
import EdgeTesting
import FleetServerTesting
import Foundation
import Readings
import Synchronization
@testable import Sync
import Wire
@testable import edge_agent

/// 2026-01-01T00:00:00Z, ManualDeviceClock's default wall clock.
let syncEpoch: Int64 = 1_767_225_600_000

/// A ManualDeviceClock that records every sleep, and ends `run()` by throwing
/// CancellationError on the first sleep `stop` returns true for.
final class SyncRecordingClock: DeviceClock {
    let base: ManualDeviceClock
    let stop: @Sendable (Duration) -> Bool
    private let recorded = Mutex<[Duration]>([])

    init(base: ManualDeviceClock = ManualDeviceClock(), stop: @escaping @Sendable (Duration) -> Bool = { _ in false }) {
        self.base = base
        self.stop = stop
    }

    var bootID: String { base.bootID }
    func now() -> DeviceTime { base.now() }
    func sleep(for duration: Duration) async throws {
        if stop(duration) { throw CancellationError() }
        recorded.withLock { $0.append(duration) }
        try await base.sleep(for: duration)
    }
    var sleeps: [Duration] { recorded.withLock { $0 } }
}

/// Answers the engine's posts from a script, then acknowledges everything; records each
/// batch it was given, decoded.
final class ScriptedTransport: SyncTransport {
    enum Answer: Sendable {
        /// Acknowledge the batch's ranges in full.
        case ack
        case status(Int, retryAfter: String? = nil, error: WireError? = nil)
        case fail(TransportError)
    }

    private let state: Mutex<(script: [Answer], batches: [SyncBatch])>

    init(_ script: [Answer] = []) {
        state = Mutex((script, []))
    }

    var batches: [SyncBatch] { state.withLock { $0.batches } }

    func post(batch body: [UInt8]) async throws(TransportError) -> TransportResponse {
        let batch = try! WireCodec.decodeBatch(gzipped: body)
        let answer = state.withLock { state -> Answer in
            state.batches.append(batch)
            return state.script.isEmpty ? .ack : state.script.removeFirst()
        }
        switch answer {
        case .ack:
            return TransportResponse(status: 200, body: try! WireCodec.encode(Self.ack(for: batch)))
        case .status(let status, let retryAfter, let error):
            let body = error.map { try! JSONEncoder().encode($0) }.map(Array.init) ?? []
            return TransportResponse(status: status, body: body, retryAfter: retryAfter)
        case .fail(let error):
            throw error
        }
    }

    static func ack(for batch: SyncBatch) -> SyncAck {
        SyncAck(
            readings: batch.readings.map { SyncAck.StreamAck(range: $0.range, inserted: $0.count, duplicates: 0) },
            events: batch.events.map { SyncAck.StreamAck(range: $0.range, inserted: $0.events.count, duplicates: 0) },
            healthStored: batch.health != nil)
    }
}

/// Alert events in memory, standing in for the alert store's log.
final class SyncTestEvents: SyncEventSource {
    let events: Mutex<[WireAlertEvent]>

    init(count: Int) {
        events = Mutex((1...max(count, 1)).prefix(count).map { sequence in
            WireAlertEvent(sequence: Int64(sequence), ruleID: "tank-hot", sensorID: "tank", kind: sequence % 2 == 1 ? .fired : .resolved,
                           severity: .critical, value: 29.5, threshold: 29, timestampMillis: syncEpoch + Int64(sequence),
                           activeSinceMillis: nil, message: "tank is 29.5 °C, above 29 °C")
        })
    }

    func syncEvents(afterSequence: Int64, limit: Int) throws -> [WireAlertEvent] {
        events.withLock { Array($0.filter { $0.sequence > afterSequence }.prefix(limit)) }
    }

    func syncEventBacklog(afterSequence: Int64) throws -> Int {
        events.withLock { $0.filter { $0.sequence > afterSequence }.count }
    }
}

/// The agent's part of health in the engine tests. `feed` turns it into what the engine is
/// given: reports built by the agent's own `HealthMonitor`, as the daemon builds them.
struct SyncTestHealth {
    var staleBacklog: Duration = .seconds(3600)
    var sensors: [SensorHealth] = [
        SensorHealth(id: "tank", state: .ok, errorCount: 0, errorsByKind: [:], lastError: nil, lastReadingAgeSeconds: 2),
    ]

    func feed(database: LocalDatabase, store: ReadingWriter, events: (any SyncEventSource)? = nil,
              clock: any DeviceClock) throws -> Feed {
        Feed(agent: AgentHealth(version: "1.0.0-test",
                                startedAt: DeviceTime(unixMillis: syncEpoch, bootNanos: 4_000_000_000, synchronized: true),
                                sensors: sensors, firingAlerts: 1),
             monitor: HealthMonitor(clock: clock, syncConfigured: true, staleBacklog: staleBacklog),
             stores: StoreQueries(database: database, readings: store.queries, alerts: try AlertStore(writer: database.writer)))
    }

    /// Refreshes the agent's monitor whenever the engine asks, as if the daemon's timer had
    /// just run: the engine then carries exactly what the monitor built.
    struct Feed: HealthFeed {
        let agent: AgentHealth
        let monitor: HealthMonitor
        let stores: StoreQueries

        func latestReport() -> HealthReport? { try? monitor.refresh(agent: agent, stores: stores) }
    }
}

/// A report that says only that the device is up: for tests about what carries health, not
/// what it says.
struct FixedHealth: HealthFeed {
    func latestReport() -> HealthReport? {
        HealthReport(takenAtMillis: syncEpoch, bootID: "test-boot", version: "test", uptimeSeconds: 1, status: .healthy,
                     reasons: [], clockSynchronized: true, sensors: [], databaseBytes: 0, backlogRows: 0,
                     backlogOldestMillis: nil, drops: [], deadLetteredBatches: 0, lastSyncMillis: nil, rssBytes: 0,
                     cpuPercent: 0, firingAlerts: 0)
    }
}

/// A database with `readings` readings of "tank" (1 s apart) and an engine over it.
struct SyncFixture {
    let directory: TemporaryDirectory
    let clock: SyncRecordingClock
    let database: LocalDatabase
    let store: ReadingWriter
    let transport: ScriptedTransport
    let events: SyncTestEvents
    let health: SyncTestHealth.Feed
    let engine: SyncEngine

    init(readings: Int, events: Int = 0, script: [ScriptedTransport.Answer] = [],
         configure: (inout SyncConfiguration) -> Void = { _ in },
         stop: @escaping @Sendable (Duration) -> Bool = { _ in false },
         health: SyncTestHealth = SyncTestHealth(), over realTransport: (any SyncTransport)? = nil,
         sensors: [String] = ["tank"]) throws {
        directory = try TemporaryDirectory("sync-tests")
        clock = SyncRecordingClock(stop: stop)
        database = try LocalDatabase.open(path: directory.databasePath, clock: clock)
        store = try ReadingWriter(database: database, clock: clock)
        for index in 0..<readings {
            try store.append(Sample(sensorID: sensors[index % sensors.count], value: 25 + Double(index) / 100, unit: "°C", quality: .ok,
                             time: DeviceTime(unixMillis: syncEpoch + Int64(index) * 1000, bootNanos: 1, synchronized: true)))
        }
        try store.flush()
        transport = ScriptedTransport(script)
        self.events = SyncTestEvents(count: events)
        var configuration = SyncConfiguration(deviceID: "reef-1", maxBatchRows: 5, idleInterval: .seconds(10),
                                              backoff: Backoff(base: .seconds(1), cap: .seconds(60)),
                                              retryAfterCap: .seconds(120), healthInterval: .seconds(3600))
        configure(&configuration)
        self.health = try health.feed(database: database, store: store, events: self.events, clock: clock)
        engine = try SyncEngine(configuration: configuration, database: database, readings: store.queries, events: self.events,
                                transport: realTransport ?? transport, health: self.health, clock: clock, random: SeededRandom(seed: 7))
    }
}

/// The real `edge-agent` binary configured for the fleet server under test, through the
/// environment the way a unit file would: device id, URL, CA, and a token file (mode 0600)
/// written into `directory`. Its commands run as separate processes.
struct AgentProcesses {
    let environment: [String: String]
    let tokenPath: String

    init(server: ServerHarness, directory: String, overrides: [String: String] = [:]) {
        tokenPath = directory + "/token"
        FileManager.default.createFile(atPath: tokenPath, contents: Data(server.deviceToken.utf8), attributes: [.posixPermissions: 0o600])
        var environment = ProcessInfo.processInfo.environment
        environment["EDGE_AGENT_CONFIG"] = ""
        environment["NOTIFY_SOCKET"] = ""
        environment["EDGE_AGENT_DEVICE_ID"] = server.deviceName
        environment["EDGE_AGENT_SYNC_URL"] = server.url
        environment["EDGE_AGENT_SYNC_TOKEN_FILE"] = tokenPath
        environment["EDGE_AGENT_SYNC_CA_FILE"] = server.certificates.ca
        environment.merge(overrides) { $1 }
        self.environment = environment
    }

    /// Starts `edge-agent ARGUMENTS` with its output discarded (or to `stdout`, when given).
    func start(_ arguments: [String], stdout: Pipe? = nil) throws -> Process {
        let process = Process()
        process.executableURL = Built.product("edge-agent")
        process.arguments = arguments
        process.environment = environment
        process.standardError = FileHandle.nullDevice
        process.standardOutput = stdout ?? FileHandle.nullDevice
        try process.run()
        return process
    }
}
