import Wire

/// A rule that is firing now, as the alert engine's state table knows it. Repeats and the
/// "still firing" message after an outage come from this state, not from the event log,
/// which holds no event for "still firing two hours later".
public struct FiringRule: Sendable, Hashable {
    public var ruleID: String
    public var sensorID: String
    public var severity: AlertSeverity
    /// When the current episode began; repeats count from here until one is sent.
    public var firingSinceMillis: Int64
    public var acknowledged: Bool
    public var silenced: Bool
    public var message: String

    public init(ruleID: String, sensorID: String, severity: AlertSeverity, firingSinceMillis: Int64,
                acknowledged: Bool = false, silenced: Bool = false, message: String) {
        self.ruleID = ruleID
        self.sensorID = sensorID
        self.severity = severity
        self.firingSinceMillis = firingSinceMillis
        self.acknowledged = acknowledged
        self.silenced = silenced
        self.message = message
    }
}
