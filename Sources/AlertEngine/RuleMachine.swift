/// Where a rule's condition stands: `pending` while `for:` runs, `firing` once it has held.
enum Phase: String, Sendable, Hashable {
    case inactive, pending, firing
}

/// A moment on both of the device's clocks, in milliseconds: `wall` stamps events and
/// silences; `mono` (since boot) measures `for:` and stale ages, so an NTP step cannot
/// cut either short.
struct Instant: Sendable, Hashable {
    var wall: Int64
    var mono: Int64
}

/// What a rule learns from one call.
enum Observation: Sendable, Hashable {
    /// A value that counts as evidence, with the wall time it was measured (rate windows).
    case value(Double, unit: String, takenAt: Int64)
    /// The driver reported an error for the sensor.
    case error(String)
    /// Only time passed (a tick, or a sample that is no evidence).
    case time
}

/// One step of a rule's life that the coordinator must persist, and usually record.
struct Transition: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        /// inactive → pending, or pending → inactive (debounced): the state row only.
        case pending, cleared
        /// The condition changed while the rule flaps: the state row follows, nothing is recorded.
        case followed
        case fired, resolved, flapping, flappingEnded
    }
    var kind: Kind
    /// The episode start the event carries (`activeSinceMillis`) at the moment of the step.
    var activeSince: Int64?

    /// Whether this step is an event a person sees.
    var isRecorded: Bool {
        switch kind {
        case .pending, .cleared, .followed: false
        case .fired, .resolved, .flapping, .flappingEnded: true
        }
    }
}

/// One rule's state and how it moves: observations and time in, transitions out.
///
/// Pure on purpose: no SQLite, clock, GPIO or lock, so every rule (threshold with deadband,
/// band, stale, rate of change, switch, `for:`, flapping) can be driven as a table in the
/// tests, and the coordinator (`AlertEngine`) can compute under its lock and write outside it.
/// Rules move inactive → pending (condition true, `for:` running) → firing → inactive, as in
/// Prometheus; a rule changing state too often is held as flapping and reported once.
struct RuleMachine: Sendable, Hashable {
    let rule: AlertRule
    // The persisted episode (`alert_state`): what a restart resumes from.
    var phase: Phase = .inactive
    /// When the rule entered `phase` (wall ms).
    var since: Int64
    var flapping = false
    /// Whether the last recorded event was `fired` (a `resolved` must follow eventually).
    var reportedFiring = false
    var firedAt: Int64?
    /// The value the rule last judged (the age in seconds for stale, the change for rate rules).
    var lastValue: Double?
    /// Wall times of recent inactive ↔ firing changes, at most `changes + 1` within `window`.
    var flapChanges: [Int64] = []
    // Evidence that is not persisted.
    /// When the rule went pending (mono ms).
    var pendingSinceMono: Int64
    /// When the last valid reading arrived (mono ms); the engine's start after a restart, so a
    /// wall-clock step after boot cannot make every sensor look stale.
    var lastValidMono: Int64
    var sensorError: String?
    var unit = ""
    var rate: RateWindow?

    /// A rule with no history, or one resuming `phase` entered at `since` (a restored pending
    /// rule keeps the time it has already waited).
    init(rule: AlertRule, at now: Instant, phase: Phase = .inactive, since: Int64? = nil) {
        self.rule = rule
        self.phase = phase
        self.since = since ?? now.wall
        let waited = phase == .pending ? max(0, now.wall - self.since) : 0
        self.pendingSinceMono = now.mono - waited
        self.lastValidMono = now.mono
        self.rate = RateWindow(rule.condition)
    }

    /// Whether the rule holds its action's output (it fires, as last reported, or flaps).
    var holdsOutput: Bool { reportedFiring || flapping }

    /// Takes in one observation at `now` and returns the steps taken, in order; usually none.
    mutating func observe(_ observation: Observation, at now: Instant) -> [Transition] {
        let condition = judge(observation, mono: now.mono)
        var steps: [Transition] = []
        switch phase {
        case .inactive where condition == true:
            if rule.holdFor.saturatingMillis <= 0 {
                change(firing: true, at: now.wall, &steps)
            } else {
                enter(.pending, at: now.wall)
                pendingSinceMono = now.mono
                steps.append(Transition(kind: .pending, activeSince: nil))
            }
        case .pending where condition == false:
            enter(.inactive, at: now.wall)
            steps.append(Transition(kind: .cleared, activeSince: nil))
        case .pending where now.mono - pendingSinceMono >= rule.holdFor.saturatingMillis:
            change(firing: true, at: now.wall, &steps)
        case .firing where condition == false:
            change(firing: false, at: now.wall, &steps)
        default:
            break
        }
        let window = rule.flapping.window.saturatingMillis
        if flapping, now.wall - (flapChanges.last ?? since) >= window {
            flapping = false
            flapChanges = []
            steps.append(Transition(kind: .flappingEnded, activeSince: firedAt))
            let firing = phase == .firing
            if firing != reportedFiring { report(firing: firing, at: now.wall, &steps) }
        }
        return steps
    }

    /// Whether the condition holds; `nil` when the observation is no evidence either way.
    /// Updates what the rule knows (last value, unit, freshness, rate window) on the way.
    private mutating func judge(_ observation: Observation, mono: Int64) -> Bool? {
        var condition: Bool?
        switch rule.condition {
        case .stale(let after):
            switch observation {
            case .value:
                lastValidMono = mono
                sensorError = nil
            case .error(let reason): sensorError = reason
            case .time: break
            }
            let age = mono - lastValidMono
            condition = sensorError != nil || age >= after.saturatingMillis
            lastValue = Double(age) / 1000
            unit = "s"
            return condition
        case .threshold(let op, let threshold, let clear):
            guard case .value(let v, _, _) = observation else { return nil }
            if phase == .firing, let clear {
                let passedClear = switch op {
                case .greater, .greaterOrEqual: v < clear
                case .less, .lessOrEqual: v > clear
                case .equal, .notEqual: !op.holds(v, threshold)
                }
                condition = !passedClear
            } else {
                condition = op.holds(v, threshold)
            }
        case .band(let low, let high, let margin):
            guard case .value(let v, _, _) = observation else { return nil }
            condition = phase == .firing ? !(v >= low + margin && v <= high - margin) : (v < low || v > high)
        case .rateOfChange(let limit, _):
            guard case .value(let v, let unit, let takenAt) = observation, var window = rate else { return nil }
            let change = window.change(to: v, at: takenAt)
            rate = window
            self.unit = unit
            lastValue = change
            return limit < 0 ? change < limit : change > limit
        case .switchState(let active):
            guard case .value(let v, _, _) = observation else { return nil }
            condition = (v >= 0.5) == active
        }
        if case .value(let v, let unit, _) = observation {
            self.unit = unit
            lastValue = v
        }
        return condition
    }

    private mutating func enter(_ phase: Phase, at wall: Int64) {
        self.phase = phase
        since = wall
    }

    /// The condition's state changed (inactive ↔ firing): reported unless the rule flaps.
    private mutating func change(firing: Bool, at wall: Int64, _ steps: inout [Transition]) {
        let policy = rule.flapping
        enter(firing ? .firing : .inactive, at: wall)
        flapChanges.append(wall)
        flapChanges.removeAll { $0 <= wall - policy.window.saturatingMillis }
        if flapChanges.count > policy.changes + 1 { flapChanges.removeFirst(flapChanges.count - policy.changes - 1) }
        if flapping {
            steps.append(Transition(kind: .followed, activeSince: firedAt))
        } else if flapChanges.count > policy.changes {
            flapping = true
            steps.append(Transition(kind: .flapping, activeSince: firedAt ?? wall))
        } else {
            report(firing: firing, at: wall, &steps)
        }
    }

    private mutating func report(firing: Bool, at wall: Int64, _ steps: inout [Transition]) {
        if firing {
            firedAt = wall
            reportedFiring = true
            steps.append(Transition(kind: .fired, activeSince: wall))
        } else {
            steps.append(Transition(kind: .resolved, activeSince: firedAt))
            reportedFiring = false
            firedAt = nil
        }
    }

    /// Takes back the episode of `committed` after its write failed, keeping the evidence
    /// (freshness, rate window): the same transitions then come again with the next call.
    mutating func rollBack(to committed: RuleMachine) {
        phase = committed.phase
        since = committed.since
        flapping = committed.flapping
        reportedFiring = committed.reportedFiring
        firedAt = committed.firedAt
        flapChanges = committed.flapChanges
        pendingSinceMono = committed.pendingSinceMono
    }
}

/// The readings a rate-of-change rule compares against: at most 129 samples however fast
/// the sensor reports, spaced at least window/128 apart.
struct RateWindow: Sendable, Hashable {
    static let samples: Int64 = 128
    let window: Int64
    let falling: Bool
    private var times: [Int64] = []
    private var values: [Double] = []

    init?(_ condition: AlertRule.Condition) {
        guard case .rateOfChange(let limit, let window) = condition else { return nil }
        self.window = max(window.saturatingMillis, 1)
        self.falling = limit < 0
    }

    /// The change from the window's highest value (falling rules) or lowest (rising rules)
    /// to `value`; 0 with no earlier sample. A timestamp earlier than the newest sample (a
    /// clock step) starts the window afresh.
    mutating func change(to value: Double, at t: Int64) -> Double {
        if let last = times.last, t < last {
            times.removeAll()
            values.removeAll()
        }
        let expired = times.firstIndex { $0 >= t - window } ?? times.count
        times.removeFirst(expired)
        values.removeFirst(expired)
        let extreme = falling ? values.max() : values.min()
        if times.isEmpty || t - times[times.count - 1] >= window / Self.samples {
            times.append(t)
            values.append(value)
        }
        return extreme.map { value - $0 } ?? 0
    }
}
