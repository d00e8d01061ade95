import FleetServer
import Synchronization
import Wire

/// A `FleetStoring` in memory, for the HTTP rules in-process: devices by token hash, rows
/// keyed by (device, store, sequence) as PostgreSQL's primary keys are, and switches for
/// what a database can do to a request: fail, take long to give a connection, or hold a
/// started store until the test releases it.
final class MemoryFleetStore: FleetStoring {
    private struct State {
        var devices: [TokenHash: Device] = [:]
        var readings: [Key: StoredReading] = [:]
        var events: [Key: StoredEvent] = [:]
        var health: [Int64: [HealthReport]] = [:]
        /// Thrown by every operation while set.
        var failure: (any Error)?
        /// How long a store waits for its "connection" before it starts.
        var connectionDelay: Duration = .zero
        var holding = false
        var held: [CheckedContinuation<Void, Never>] = []
        /// Stores that reached the point of writing.
        var started = 0
    }

    private struct Key: Hashable, Comparable {
        var device: Int64
        var store: String
        var sequence: Int64
        static func < (a: Key, b: Key) -> Bool { (a.device, a.store, a.sequence) < (b.device, b.store, b.sequence) }
    }

    private let state = Mutex(State())

    /// Registers a device the way `fleet-server devices add` does and returns its token.
    @discardableResult
    func addDevice(_ name: String) -> String {
        let token = DeviceToken.generate()
        state.withLock { $0.devices[TokenHash(of: token)] = Device(id: Int64($0.devices.count + 1), name: name) }
        return token
    }

    func fail(with error: (any Error)?) { state.withLock { $0.failure = error } }
    func delayConnections(by delay: Duration) { state.withLock { $0.connectionDelay = delay } }

    /// Stores started from now on wait inside their "transaction" until `release()`.
    func hold() { state.withLock { $0.holding = true } }

    func release() {
        let waiting = state.withLock { state in
            state.holding = false
            defer { state.held = [] }
            return state.held
        }
        waiting.forEach { $0.resume() }
    }

    /// Returns once `count` stores are held.
    func waitForHeldStores(_ count: Int) async throws {
        while state.withLock({ $0.held.count }) < count { try await Task.sleep(for: .milliseconds(5)) }
    }

    var heldStores: Int { state.withLock { $0.held.count } }
    var readingCount: Int { state.withLock { $0.readings.count } }
    var healthCount: Int { state.withLock { $0.health.values.map(\.count).reduce(0, +) } }
    var startedStores: Int { state.withLock { $0.started } }

    private func check() throws {
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }

    // MARK: FleetStoring

    func device(withToken hash: TokenHash) async throws -> Device? {
        try check()
        return state.withLock { $0.devices[hash] }
    }

    func device(named name: String) async throws -> Device? {
        try check()
        return state.withLock { $0.devices.values.first { $0.name == name } }
    }

    func devices() async throws -> [DeviceSummary] {
        try check()
        return state.withLock { state in
            state.devices.values.sorted { $0.name < $1.name }.map {
                DeviceSummary(name: $0.name, createdMillis: 0, lastSeenMillis: nil, lastHealth: state.health[$0.id]?.last)
            }
        }
    }

    func store(_ batch: SyncBatch, from device: Device, statementTimeout: Duration, healthReportsKept: Int,
               starting: @Sendable () throws -> Void) async throws -> SyncAck {
        let delay = state.withLock { $0.connectionDelay }
        if delay > .zero { try? await Task.sleep(for: delay) }
        try starting()
        await withCheckedContinuation { continuation in
            let holding = state.withLock { state in
                state.started += 1
                if state.holding { state.held.append(continuation) }
                return state.holding
            }
            if !holding { continuation.resume() }
        }
        try check()
        return state.withLock { state in
            var ack = SyncAck(healthStored: batch.health != nil)
            if let block = batch.readings {
                var inserted = 0
                for row in 0..<block.count {
                    let key = Key(device: device.id, store: batch.storeID, sequence: block.sequence[row])
                    guard state.readings[key] == nil else { continue }
                    state.readings[key] = StoredReading(
                        storeID: batch.storeID, sequence: block.sequence[row], sensorID: block.sensors[Int(block.sensor[row])],
                        timestampMillis: block.timestampMillis[row], value: block.value[row], unit: block.units[Int(block.unit[row])],
                        quality: block.quality[row], clockUnsynced: block.clockUnsynced?[row] ?? false)
                    inserted += 1
                }
                ack.readings = .init(range: block.range, inserted: inserted, duplicates: block.count - inserted)
            }
            if let block = batch.events {
                var inserted = 0
                for event in block.events {
                    let key = Key(device: device.id, store: batch.storeID, sequence: event.sequence)
                    guard state.events[key] == nil else { continue }
                    state.events[key] = StoredEvent(storeID: batch.storeID, event: event)
                    inserted += 1
                }
                ack.events = .init(range: block.range, inserted: inserted, duplicates: block.events.count - inserted)
            }
            if let report = batch.health { state.health[device.id, default: []].append(report) }
            state.health[device.id] = state.health[device.id].map { Array($0.suffix(healthReportsKept)) }
            return ack
        }
    }

    func readings(of device: Device, sensor: String?, fromMillis: Int64?, toMillis: Int64?, limit: Int) async throws -> [StoredReading] {
        try check()
        return state.withLock { state in
            state.readings.filter { $0.key.device == device.id }.sorted { $0.key < $1.key }.map(\.value)
                .filter { reading in
                    (sensor == nil || reading.sensorID == sensor) && reading.timestampMillis >= (fromMillis ?? .min)
                        && reading.timestampMillis < (toMillis ?? .max)
                }
                .prefix(limit).map { $0 }
        }
    }

    func events(of device: Device, fromMillis: Int64?, toMillis: Int64?, limit: Int) async throws -> [StoredEvent] {
        try check()
        return state.withLock { state in
            state.events.filter { $0.key.device == device.id }.sorted { $0.key < $1.key }.map(\.value)
                .filter { $0.event.timestampMillis >= (fromMillis ?? .min) && $0.event.timestampMillis < (toMillis ?? .max) }
                .prefix(limit).map { $0 }
        }
    }

    func ping() async throws { try check() }
}
