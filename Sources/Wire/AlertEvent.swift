/// One transition a person cares about: what the agent's alert engine records in
/// `alert_events`, what Sync sends and what the server stores, field for field. Defined
/// once, here, so that no side can drop a field on the way (AlertEngine calls it
/// `AlertEvent`).
public struct WireAlertEvent: Codable, Sendable, Hashable {
    /// AUTOINCREMENT, never reused: Sync's cursor runs over it.
    public var sequence: Int64
    /// The rule, or `*` for events that concern every rule (maintenance, fail-safe, start-up actuation).
    public var ruleID: String
    public var sensorID: String
    public var kind: AlertEventKind
    public var severity: AlertSeverity
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
        sequence: Int64, ruleID: String, sensorID: String, kind: AlertEventKind, severity: AlertSeverity,
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

    public typealias Kind = AlertEventKind

    private enum CodingKeys: String, CodingKey {
        case sequence, ruleID, sensorID, kind, severity, value, threshold, timestampMillis, activeSinceMillis, message, silenced, output
    }

    /// Strict but for `silenced`: agents before it was on the wire did not send it, and their
    /// events must not be refused (and quarantined) by an upgraded server. Missing reads as
    /// not silenced, so such an event may wake someone rather than vanish.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try container.decode(Int64.self, forKey: .sequence)
        ruleID = try container.decode(String.self, forKey: .ruleID)
        sensorID = try container.decode(String.self, forKey: .sensorID)
        kind = try container.decode(AlertEventKind.self, forKey: .kind)
        severity = try container.decode(AlertSeverity.self, forKey: .severity)
        value = try container.decodeIfPresent(Double.self, forKey: .value)
        threshold = try container.decodeIfPresent(Double.self, forKey: .threshold)
        timestampMillis = try container.decode(Int64.self, forKey: .timestampMillis)
        activeSinceMillis = try container.decodeIfPresent(Int64.self, forKey: .activeSinceMillis)
        message = try container.decode(String.self, forKey: .message)
        silenced = try container.decodeIfPresent(Bool.self, forKey: .silenced) ?? false
        output = try container.decodeIfPresent(String.self, forKey: .output)
    }
}

public enum AlertEventKind: String, Sendable, Hashable, Codable, CaseIterable {
    case fired, resolved, flapping, flappingEnded, acknowledged, silenced, unsilenced
    case maintenanceStarted, maintenanceEnded, actuated, failSafe
}

/// A rule's severity, as profiles spell it and events carry it.
public enum AlertSeverity: String, Sendable, Hashable, Codable, CaseIterable {
    case info, warning, critical
}
