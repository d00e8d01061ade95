import EdgeCore

/// When buffered readings become one transaction, and when the WAL is synced.
public struct GroupCommitPolicy: Sendable {
    /// The longest a reading waits in memory before its transaction commits.
    public var interval: Duration
    /// A buffer this full commits at once, without waiting for the timer.
    public var maxRows: Int
    /// How often `run()` runs a PASSIVE checkpoint after writes. With `synchronous=NORMAL`
    /// a commit is not fsynced; the checkpoint syncs the WAL, so this bounds what a power
    /// cut can take back (see docs/STORAGE.md).
    public var checkpointInterval: Duration

    public init(interval: Duration = .milliseconds(250), maxRows: Int = 512, checkpointInterval: Duration = .seconds(5)) {
        self.interval = interval
        self.maxRows = maxRows
        self.checkpointInterval = checkpointInterval
    }
}

public enum ReadingStoreError: Error, Equatable, CustomStringConvertible {
    case invalidSensorID(String)
    case invalidUnit(sensorID: String, unit: String)
    case nonFiniteValue(sensorID: String)
    case invalidLimit(Int)
    /// Commits have been failing and the buffer reached its cap; the reading was not kept.
    case bufferFull(sensorID: String, buffered: Int)

    public var description: String {
        switch self {
        case .invalidSensorID(let id):
            "sensor id \(id.prefix(40).debugDescription) is empty or longer than \(ReadingWriter.maxSensorIDLength) bytes; fix the profile's sensor id"
        case .invalidUnit(let id, let unit):
            "unit \(unit.prefix(40).debugDescription) of sensor \(id) is longer than \(ReadingWriter.maxUnitLength) bytes; fix the profile's unit"
        case .nonFiniteValue(let id):
            "sensor \(id) produced a non-finite value; a failed read must be reported as an error, not stored"
        case .invalidLimit(let limit):
            "limit \(limit) is outside 1...\(ReadingQueries.maxLimit)"
        case .bufferFull(let id, let buffered):
            "reading of \(id) not kept: \(buffered) readings are waiting for a commit that keeps failing; check the database's disk and the agent's log"
        }
    }
}
