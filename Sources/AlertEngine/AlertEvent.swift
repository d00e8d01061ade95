/// One transition a person cares about, as stored in `alert_events` and streamed by Sync.
public struct AlertEvent: Sendable, Hashable, Codable {
    /// AUTOINCREMENT, never reused: Sync's cursor runs over it.
    public var sequence: Int64
    /// The rule, or `*` for events that concern every rule (maintenance, fail-safe, start-up actuation).
    public var ruleID: String
    public var sensorID: String
    public var kind: Kind
    public var severity: Severity
    public var value: Double?
    public var threshold: Double?
    public var timestampMillis: Int64
    /// When the firing episode this event belongs to began.
    public var activeSinceMillis: Int64?
    /// The rule's description with its placeholders filled in.
    public var message: String
    /// Recorded while the rule was silenced or the device in maintenance: the history stays
    /// complete, but nobody should be woken for it.
    public var silenced: Bool
    /// The output an `actuated` or `failSafe` event switched.
    public var output: String?

    public init(
        sequence: Int64, ruleID: String, sensorID: String, kind: Kind, severity: Severity,
        value: Double?, threshold: Double?, timestampMillis: Int64, activeSinceMillis: Int64?,
        message: String, silenced: Bool = false, output: String? = nil
    ) {
        self.sequence = sequence
        self.ruleID = ruleID
        self.sensorID = sensorID
        self.kind = kind
        self.severity = severity
        self.value = value
        self.threshold = threshold
        self.timestampMillis = timestampMillis
        self.activeSinceMillis = activeSinceMillis
        self.message = message
        self.silenced = silenced
        self.output = output
    }

    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case fired, resolved, flapping, flappingEnded, acknowledged, silenced, unsilenced
        case maintenanceStarted, maintenanceEnded, actuated, failSafe
    }
}

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
    case notActive(String)
    case expiryInPast(until: Int64, now: Int64)
    case notInMaintenance

    public var description: String {
        switch self {
        case .unknownRule(let id): "no alert rule '\(id)' in the profile; `edge-agent alerts` lists the active ones"
        case .notActive(let id): "rule '\(id)' is not firing, so there is nothing to acknowledge"
        case .expiryInPast(let until, let now): "expiry \(until) ms is not after now (\(now) ms); give a time in the future"
        case .notInMaintenance: "the device is not in maintenance; nothing to end"
        }
    }
}
