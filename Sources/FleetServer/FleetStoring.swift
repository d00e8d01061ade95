import Wire

/// What the HTTP rules need from storage: find a device by token or name, store a batch,
/// answer the read API. The rules (authentication, admission, validation, deadlines, status
/// codes) are written against this protocol alone, so they are tested in-process against a
/// store in memory; `PostgresFleetStore` is the one the server runs with.
///
/// A store reports failures the HTTP rules must tell apart as `FleetStoreFailure`; any
/// other error counts as the database being unavailable.
public protocol FleetStoring: Sendable {
    func device(withToken hash: TokenHash) async throws -> Device?
    func device(named name: String) async throws -> Device?
    func devices() async throws -> [DeviceSummary]

    /// Stores a batch all or nothing and says how many rows were new and how many the
    /// store already held (a retried batch inserts nothing twice).
    ///
    /// `starting` must be called once the store is about to write and before it writes:
    /// it throws if the caller's deadline for starting has passed, and then nothing may be
    /// written. Each statement is bounded by `statementTimeout` (`.timedOut` past it).
    func store(_ batch: SyncBatch, from device: Device, statementTimeout: Duration, healthReportsKept: Int,
               starting: @Sendable () throws -> Void) async throws -> SyncAck

    func readings(of device: Device, sensor: String?, fromMillis: Int64?, toMillis: Int64?, limit: Int) async throws -> [StoredReading]
    func events(of device: Device, fromMillis: Int64?, toMillis: Int64?, limit: Int) async throws -> [StoredEvent]
    /// Succeeds when the store can answer (`/healthz`).
    func ping() async throws
}

/// A store failure the HTTP rules answer differently from "unavailable".
public enum FleetStoreFailure: Error, Sendable, Equatable {
    /// The database cannot be reached or broke the operation off (connection, resource or
    /// operator errors); nothing was written.
    case unavailable(detail: String)
    /// A statement ran past its statement timeout and was rolled back.
    case timedOut
    /// The database refused the batch's own values (SQLSTATE class 22): a retry fails alike.
    case refusedData(sqlState: String, detail: String)
    /// The database rejected the operation for another reason: a bug or a schema that does
    /// not match this server.
    case rejected(sqlState: String, detail: String)
    /// The connection broke during COMMIT: the batch may or may not be stored.
    case commitUnknown(detail: String)
}

/// A device as the server knows it.
public struct Device: Sendable, Hashable {
    public var id: Int64
    public var name: String

    public init(id: Int64, name: String) {
        self.id = id
        self.name = name
    }
}

// MARK: Read API answers

public struct DeviceSummary: Codable, Sendable, Hashable {
    public var name: String
    public var createdMillis: Int64
    public var lastSeenMillis: Int64?
    public var lastHealth: HealthReport?

    public init(name: String, createdMillis: Int64, lastSeenMillis: Int64?, lastHealth: HealthReport?) {
        self.name = name
        self.createdMillis = createdMillis
        self.lastSeenMillis = lastSeenMillis
        self.lastHealth = lastHealth
    }
}

public struct StoredReading: Codable, Sendable, Hashable {
    public var storeID: String
    public var sequence: Int64
    public var sensorID: String
    public var timestampMillis: Int64
    public var value: Double
    public var unit: String
    /// Measured quality (`clock-unsynced` only from agents that sent the clock state there).
    public var quality: String
    /// The timestamp is provisional: taken before the device's clock was synchronised.
    public var clockUnsynced: Bool

    public init(storeID: String, sequence: Int64, sensorID: String, timestampMillis: Int64, value: Double, unit: String,
                quality: String, clockUnsynced: Bool) {
        self.storeID = storeID
        self.sequence = sequence
        self.sensorID = sensorID
        self.timestampMillis = timestampMillis
        self.value = value
        self.unit = unit
        self.quality = quality
        self.clockUnsynced = clockUnsynced
    }
}

public struct StoredEvent: Codable, Sendable, Hashable {
    public var storeID: String
    public var event: WireAlertEvent

    public init(storeID: String, event: WireAlertEvent) {
        self.storeID = storeID
        self.event = event
    }
}
