/// One switch the arbiter wants made, and why.
struct Actuation: Sendable, Hashable {
    var output: String
    var on: Bool
    /// The rule that holds the output, or that released it; `nil` at start-up and fail-safe.
    var rule: Int?
    /// "rule hot fired", "rule hot released", "start-up", "fail-safe".
    var reason: String
}

/// Where a rule stands as far as outputs care.
struct Standing: Sendable, Hashable {
    /// It fires (as last reported) or flaps: its action holds the output.
    var holds: Bool
    var flapping: Bool
}

/// Decides where each output should be from the rules' standings, and remembers where each
/// was last driven, so only changes are switched and a failing switch is recorded once.
///
/// Pure: the coordinator makes the GPIO calls the plan asks for and reports each result back
/// with `settle`, which turns it into the `actuated` event. Several rules may hold one output
/// (a leak and the high float both stop the top-off pump): the first in profile order that
/// holds it wins; held by none, it returns to its `normal` state.
struct OutputArbiter: Sendable {
    let rules: [AlertRule]
    /// Every output a rule drives or the profile declares, sorted, with its normal state.
    let normals: [(output: String, normal: Bool)]
    /// The declared outputs, sorted, with their fail-safe state.
    let failSafes: [(output: String, state: Bool)]
    /// The state each output was last driven to; absent when unknown or the switch failed.
    private(set) var driven: [String: Bool] = [:]
    /// Outputs whose last switch failed: retried on every call, recorded once until it works.
    private(set) var failing: Set<String> = []

    /// An output no policy declares rests in the opposite of the first action on it.
    init(rules: [AlertRule], policies: [String: OutputPolicy]) {
        self.rules = rules
        var normals = policies.mapValues(\.normal)
        for case let action? in rules.map(\.action) where normals[action.output] == nil {
            normals[action.output] = !action.state
        }
        self.normals = normals.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        self.failSafes = policies.sorted { $0.key < $1.key }.map { ($0.key, $0.value.failSafe) }
    }

    /// The switches that put each output where the rules want it (`standings` by rule index).
    /// `changed` (ascending) are the rules this call moved and `reported` those that recorded
    /// `fired`/`resolved`: they name why an output returns to normal; with neither, start-up.
    func plan(_ standings: [Standing], changed: [Int] = [], reported: Set<Int> = []) -> [Actuation] {
        var plan: [Actuation] = []
        for (output, normal) in normals {
            let holder = rules.indices.first { rules[$0].action?.output == output && standings[$0].holds }
            let wanted = holder.map { rules[$0].action!.state } ?? normal
            guard driven[output] != wanted else { continue }
            let rule = holder ?? changed.first { rules[$0].action?.output == output }
            let reason = rule.map { i in
                let why = holder != nil ? (standings[i].flapping ? "flapping" : "fired")
                    : (reported.contains(i) ? "resolved" : "released")
                return "rule \(rules[i].id) \(why)"
            } ?? "start-up"
            plan.append(Actuation(output: output, on: wanted, rule: rule, reason: reason))
        }
        return plan
    }

    /// Every declared output to its fail-safe state, for the agent's stop path.
    var failSafePlan: [Actuation] {
        failSafes.map { Actuation(output: $0.output, on: $0.state, rule: nil, reason: "fail-safe") }
    }

    /// Takes in the result of making `switch` (`error` when the GPIO call failed) and returns
    /// the event to record: `nil` for a switch that keeps failing, already recorded.
    mutating func settle(_ switch: Actuation, error: (any Error)?, kind: AlertEvent.Kind = .actuated, at now: Int64) -> AlertEvent? {
        if error == nil {
            driven[`switch`.output] = `switch`.on
            if kind == .actuated { failing.remove(`switch`.output) }
        } else {
            driven[`switch`.output] = nil
            if kind == .actuated, !failing.insert(`switch`.output).inserted { return nil }
        }
        let rule = `switch`.rule.map { rules[$0] }
        return AlertEvent(
            sequence: 0, ruleID: rule?.id ?? "*", sensorID: rule?.sensorID ?? "*", kind: kind,
            severity: rule?.severity ?? .info, value: error == nil ? (`switch`.on ? 1 : 0) : nil, threshold: nil,
            timestampMillis: now, activeSinceMillis: nil,
            message: AlertMessages.switched(`switch`.output, on: `switch`.on, reason: `switch`.reason, error: error),
            output: `switch`.output)
    }

    /// Forgets where `outputs` were driven, after the write that recorded them failed: the
    /// relays did move, so the next call that commits drives them again and records it.
    mutating func forget(_ outputs: some Sequence<String>) {
        for output in outputs { driven[output] = nil }
    }
}
