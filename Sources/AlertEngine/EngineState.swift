// The state `AlertEngine` keeps under its lock, and what one call decides: plain values, so
// the coordinator's lock guards memory only and never a write.

/// A rule's machine with what the engine keeps beside it.
struct RuleSlot: Sendable {
    var machine: RuleMachine
    /// The description recorded with the current episode (`alert_state.message`).
    var message: String
    var silencedUntil: Int64?
}

/// Everything the engine's lock guards.
struct EngineState: Sendable {
    /// Each rule's latest state, including writes still in flight.
    var slots: [RuleSlot]
    /// Each rule as of its last write that committed: what a failed write rolls back to.
    var committed: [RuleSlot]
    var maintenanceUntil: Int64?
    var arbiter: OutputArbiter
    /// Moves when a write fails, so writes computed before the failure was known are refused.
    var epoch: UInt64 = 0

    init(slots: [RuleSlot], maintenanceUntil: Int64?, arbiter: OutputArbiter) {
        self.slots = slots
        self.committed = slots
        self.maintenanceUntil = maintenanceUntil
        self.arbiter = arbiter
    }

    /// Feeds rule `i` one observation; what it did goes into `step`.
    mutating func observe(_ i: Int, _ observation: Observation, _ step: inout Step) {
        let now = step.now.wall
        let silenced = (slots[i].silencedUntil.map { $0 > now } ?? false) || (maintenanceUntil.map { $0 > now } ?? false)
        let transitions = slots[i].machine.observe(observation, at: step.now)
        guard !transitions.isEmpty else { return }
        step.change(i)
        let machine = slots[i].machine
        let description = AlertMessages.describe(machine)
        for transition in transitions where transition.isRecorded {
            let kind: AlertEvent.Kind = switch transition.kind {
            case .fired: .fired
            case .resolved: .resolved
            case .flapping: .flapping
            default: .flappingEnded
            }
            if kind == .fired || kind == .resolved { step.reported.insert(i) }
            if kind == .fired || kind == .flapping { slots[i].message = description }
            step.batch.items.append(.event(AlertEvent(
                sequence: 0, ruleID: machine.rule.id, sensorID: machine.rule.sensorID, kind: kind,
                severity: machine.rule.severity, value: machine.lastValue,
                threshold: AlertMessages.threshold(machine.rule, value: machine.lastValue, resolving: kind == .resolved),
                timestampMillis: now, activeSinceMillis: transition.activeSince,
                message: AlertMessages.prefix(transition.kind, machine) + description, silenced: silenced)))
        }
    }

    /// Takes every rule back to its last committed episode.
    mutating func rollBack() {
        for i in slots.indices {
            slots[i].machine.rollBack(to: committed[i].machine)
            slots[i].message = committed[i].message
        }
    }
}

/// What one engine call has decided so far.
struct Step {
    let now: Instant
    /// Rules whose state changed, ascending: their rows are written.
    private(set) var changed: [Int] = []
    /// Rules that recorded `fired` or `resolved`: a new or ended episode clears the acknowledgement.
    var reported: Set<Int> = []
    var batch = StoreBatch()
    /// Outputs switched (or tried) by this call.
    var driven: [String] = []

    init(now: Instant) { self.now = now }

    mutating func change(_ i: Int) {
        if let at = changed.firstIndex(where: { $0 >= i }) {
            if changed[at] != i { changed.insert(i, at: at) }
        } else {
            changed.append(i)
        }
    }
}
