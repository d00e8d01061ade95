import Foundation

/// The text and numbers a person reads in an event, in one place so the rule machine stays
/// free of wording and every event says things the same way.
enum AlertMessages {
    /// The rule's `description` (or the default for its condition) with `{value}`,
    /// `{threshold}`, `{sensor}` and `{unit}` filled in, plus the sensor's error if it has one.
    static func describe(_ machine: RuleMachine) -> String {
        let rule = machine.rule
        let template = rule.description.isEmpty ? defaultDescription(rule.condition) : rule.description
        var text = template
            .replacingOccurrences(of: "{value}", with: machine.lastValue.map(format) ?? "n/a")
            .replacingOccurrences(
                of: "{threshold}", with: threshold(rule, value: machine.lastValue, resolving: false).map(format) ?? "n/a")
            .replacingOccurrences(of: "{sensor}", with: rule.sensorID)
            .replacingOccurrences(of: "{unit}", with: machine.unit)
        if let error = machine.sensorError { text += " (sensor error: \(error))" }
        return text
    }

    /// What an event says before the description, so a list of events reads as a story.
    static func prefix(_ kind: Transition.Kind, _ machine: RuleMachine) -> String {
        switch kind {
        case .resolved: "Resolved: "
        case .flapping:
            "Flapping (\(machine.flapChanges.count) changes in \(machine.rule.flapping.window.saturatingMillis / 1000) s): "
        case .flappingEnded: "Stopped flapping: "
        case .pending, .cleared, .followed, .fired: ""
        }
    }

    /// The limit the value was compared with: the clear edge on resolve when there is one;
    /// the band edge nearer the value; `after` in seconds for stale; 1/0 for switches.
    static func threshold(_ rule: AlertRule, value: Double?, resolving: Bool) -> Double? {
        switch rule.condition {
        case .threshold(_, let value, let clear): resolving ? (clear ?? value) : value
        case .band(let low, let high, _): value.map { $0 < (low + high) / 2 ? low : high }
        case .stale(let after): Double(after.saturatingMillis) / 1000
        case .rateOfChange(let limit, _): limit
        case .switchState(let active): active ? 1 : 0
        }
    }

    /// The text for a rule whose profile gives no `description`.
    static func defaultDescription(_ condition: AlertRule.Condition) -> String {
        switch condition {
        case .threshold, .band: "{sensor} is {value} {unit} (limit {threshold})"
        case .stale: "No valid reading from {sensor} for {value} s"
        case .rateOfChange: "{sensor} changed by {value} {unit} (limit {threshold})"
        case .switchState: "{sensor} reads {value}"
        }
    }

    /// Operator and lifecycle events quote what they act on.
    static func acknowledged(_ message: String) -> String { "Acknowledged: \(message)" }
    static func silenced(_ ruleID: String, until: Int64) -> String { "Silenced \(ruleID) until \(iso(until))" }
    static func unsilenced(_ ruleID: String) -> String { "Silence ended for \(ruleID)" }
    static func maintenance(until: Int64) -> String { "Maintenance until \(iso(until))" }
    static let maintenanceEnded = "Maintenance ended"
    static func removed(_ ruleID: String) -> String { "Resolved: rule \(ruleID) was removed from the profile" }

    /// An output switch: "heater off (rule hot fired)", or why it could not be switched.
    static func switched(_ output: String, on: Bool, reason: String, error: (any Error)?) -> String {
        let state = on ? "on" : "off"
        guard let error else { return "\(output) \(state) (\(reason))" }
        return "could not switch \(output) \(state) (\(reason)): \(error)"
    }

    /// At most three decimals, no trailing zeros, never "-0": "28.6", "-0.225", "300".
    static func format(_ value: Double) -> String {
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    static func iso(_ millis: Int64) -> String {
        Date(timeIntervalSince1970: Double(millis) / 1000).ISO8601Format()
    }
}
