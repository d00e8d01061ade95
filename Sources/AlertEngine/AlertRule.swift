import Wire

/// A rule from the device profile's `alerts:` section. Pure data: the profile parser builds
/// it, the engine evaluates it.
public struct AlertRule: Sendable, Hashable {
    public var id: String
    /// The reading sensor id the rule watches ("tank_temp", "room.humidity").
    public var sensorID: String
    public var condition: Condition
    /// How long the condition must hold before the rule fires (`for:`); zero fires at once.
    public var holdFor: Duration
    public var severity: Severity
    /// Human text; `{value}`, `{threshold}`, `{sensor}` and `{unit}` are interpolated.
    public var description: String
    /// What the rule drives while it fires, if anything.
    public var action: Action?
    /// Hold the rule as flapping when it changes state this often.
    public var flapping: FlapPolicy

    public init(
        id: String, sensorID: String, condition: Condition, holdFor: Duration = .zero,
        severity: Severity = .warning, description: String = "", action: Action? = nil,
        flapping: FlapPolicy = .default
    ) {
        self.id = id
        self.sensorID = sensorID
        self.condition = condition
        self.holdFor = holdFor
        self.severity = severity
        self.description = description
        self.action = action
        self.flapping = flapping
    }

    public enum Condition: Sendable, Hashable {
        /// `value op threshold`; once firing, clears only when the value passes `clear`
        /// (the deadband edge), or when the condition is false if `clear` is nil.
        case threshold(op: ComparisonOperator, value: Double, clear: Double?)
        /// Outside `[low, high]`; clears only inside `[low + margin, high - margin]`.
        case band(low: Double, high: Double, clearMargin: Double)
        /// No valid reading for `after`, or the sensor reports an error.
        case stale(after: Duration)
        /// Change over `window` beyond `limit`: a negative limit means falling faster than
        /// |limit| per window, a positive one rising faster.
        case rateOfChange(limit: Double, window: Duration)
        /// A digital input reading 1 (`active: true`) or 0 (`active: false`) for `holdFor`:
        /// leak switch `wet` is 1 when wet; float switch `level` is 1 when the float is up.
        case switchState(active: Bool)
    }

    /// Drives a declared GPIO output to `state` while the rule fires; the output returns
    /// to its normal state on resolve and to its fail-safe state when the agent stops.
    public struct Action: Sendable, Hashable {
        public var output: String
        public var state: Bool
        public init(output: String, state: Bool) {
            self.output = output
            self.state = state
        }
    }

    public struct FlapPolicy: Sendable, Hashable {
        /// State changes within `window` that mark the rule as flapping.
        public var changes: Int
        public var window: Duration
        public init(changes: Int, window: Duration) {
            self.changes = changes
            self.window = window
        }
        public static let `default` = FlapPolicy(changes: 6, window: .seconds(600))
    }
}

/// Defined by Wire, which carries it to the server.
public typealias Severity = AlertSeverity

public enum ComparisonOperator: String, Sendable, Hashable, Codable, CaseIterable {
    case greater = ">"
    case less = "<"
    case greaterOrEqual = ">="
    case lessOrEqual = "<="
    case equal = "=="
    case notEqual = "!="

    public func holds(_ value: Double, _ threshold: Double) -> Bool {
        switch self {
        case .greater: value > threshold
        case .less: value < threshold
        case .greaterOrEqual: value >= threshold
        case .lessOrEqual: value <= threshold
        case .equal: value == threshold
        case .notEqual: value != threshold
        }
    }
}
