import Wire

/// One transition a person cares about, as stored in `alert_events` and streamed by Sync:
/// the wire's own type, so every field reaches the server.
public typealias AlertEvent = WireAlertEvent

/// A rule that is not inactive, as `edge-agent alerts` lists it.
public struct ActiveAlert: Sendable, Hashable {
    public var ruleID: String
    public var sensorID: String
    public var state: State
    /// When the rule entered `state`.
    public var sinceMillis: Int64
    public var value: Double?
    public var acknowledged: Bool
    public var silencedUntilMillis: Int64?
    public var severity: Severity
    public var message: String

    public enum State: String, Sendable, Hashable, Codable {
        case pending, firing, flapping
    }
}

/// The seam to the GPIO outputs a rule's action drives.
public protocol AlertOutputs: Sendable {
    func set(_ output: String, on: Bool) throws
}

/// A declared output's two resting states: `normal` when no firing rule holds it, `failSafe`
/// when the agent stops.
public struct OutputPolicy: Sendable, Hashable {
    public var normal: Bool
    public var failSafe: Bool
    public init(normal: Bool, failSafe: Bool) {
        self.normal = normal
        self.failSafe = failSafe
    }
}

public enum AlertEngineError: Error, Hashable, CustomStringConvertible {
    case unknownRule(String)
    case duplicateRule(String)
    case notActive(String)
    case expiryInPast(until: Int64, now: Int64)
    case notInMaintenance
    /// A write computed on top of one that failed: not written, so nothing is recorded twice.
    case writeAbandoned

    public var description: String {
        switch self {
        case .unknownRule(let id): "no alert rule '\(id)' in the profile; `edge-agent alerts` lists the active ones"
        case .duplicateRule(let id): "two alert rules share the id '\(id)'; give each rule its own id in the profile"
        case .notActive(let id): "rule '\(id)' is not firing, so there is nothing to acknowledge"
        case .expiryInPast(let until, let now): "expiry \(until) ms is not after now (\(now) ms); give a time in the future"
        case .notInMaintenance: "the device is not in maintenance; nothing to end"
        case .writeAbandoned:
            "an earlier alert write failed, so this one, computed on top of it, was not written; "
                + "the rules resume from their last committed state with the next reading"
        }
    }
}
