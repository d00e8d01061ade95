import EdgeCore
import Readings
import Wire

/// Alert events as Sync reads them: the alert store's log, ascending by sequence.
/// A seam between two stages' stores, so the engine does not depend on how AlertEngine
/// keeps its tables.
public protocol SyncEventSource: Sendable {
    /// Events with a sequence above `afterSequence`, ascending, at most `limit`.
    func syncEvents(afterSequence: Int64, limit: Int) throws -> [WireAlertEvent]
    /// How many events lie beyond `afterSequence`.
    func syncEventBacklog(afterSequence: Int64) throws -> Int
}

public struct SyncConfiguration: Sendable, Hashable {
    public var deviceID: String
    /// Rows per batch, events and readings together (events take their share first).
    public var maxBatchRows: Int
    /// Compressed body bytes per batch; a batch over it is halved until it fits.
    public var maxBatchBytes: Int
    /// Wait between checks when there is nothing to send.
    public var idleInterval: Duration
    public var backoff: Backoff
    /// The most a server's `Retry-After` can make the device wait.
    public var retryAfterCap: Duration
    /// A health report goes with the next batch once this much time has passed since the last.
    public var healthInterval: Duration
    /// How long readings taken before the clock was synchronised (this boot) are held back,
    /// waiting to be re-stamped, before they are sent with their provisional timestamps.
    public var clockHold: Duration
    /// Ten minutes: long enough for NTP to answer after a Pi boots on Wi-Fi.
    public static let defaultClockHold = Duration.seconds(600)

    /// Why this configuration cannot work, or nil.
    public func validationError() -> String? {
        if deviceID.isEmpty || deviceID.utf8.count > 128 { return "sync device id must be 1 to 128 bytes" }
        if !(1...ReadingQueries.maxLimit).contains(maxBatchRows) { return "sync max batch rows \(maxBatchRows) is outside 1...\(ReadingQueries.maxLimit)" }
        if maxBatchBytes < 1024 { return "sync max batch bytes \(maxBatchBytes) is below 1024" }
        if healthInterval <= .zero || idleInterval <= .zero { return "sync intervals must be positive" }
        return nil
    }

    public init(deviceID: String, maxBatchRows: Int = 5000, maxBatchBytes: Int = 512 * 1024,
                idleInterval: Duration = .seconds(10), backoff: Backoff = Backoff(base: .seconds(1), cap: .seconds(300)),
                retryAfterCap: Duration = .seconds(900), healthInterval: Duration = .seconds(60),
                clockHold: Duration = SyncConfiguration.defaultClockHold) {
        self.deviceID = deviceID
        self.maxBatchRows = maxBatchRows
        self.maxBatchBytes = maxBatchBytes
        self.idleInterval = idleInterval
        self.backoff = backoff
        self.retryAfterCap = retryAfterCap
        self.healthInterval = healthInterval
        self.clockHold = clockHold
    }
}

/// Progress of `syncOnce`, for `edge-agent sync --once`.
public struct SyncProgress: Sendable, Hashable {
    /// Readings and events the server acknowledged during this call.
    public var rowsSent: Int
    /// Readings and events still beyond the cursors.
    public var rowsRemaining: Int
    /// Batches quarantined during this call.
    public var quarantined: Int
}

public enum SyncError: Error, Hashable, CustomStringConvertible {
    /// The server refused the device itself (401/403): fix the token or the device id.
    case credentialsRejected(status: Int, reason: String)
    /// `syncOnce` saw this many failures in a row; the last said `reason`.
    case gaveUp(failures: Int, reason: String)
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .credentialsRejected(let status, let reason):
            "the server refused this device (HTTP \(status)): \(reason). Check the token file and the device id"
        case .gaveUp(let failures, let reason):
            "gave up after \(failures) failed attempts in a row; last: \(reason)"
        case .invalidConfiguration(let reason):
            "\(reason); fix the agent's sync settings"
        }
    }
}
