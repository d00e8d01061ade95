import EdgeCore
import Synchronization

/// Evaluates each new sample against the profile's rules and records what changed: a small
/// coordinator over pure parts. `RuleMachine` moves each rule, `OutputArbiter` decides the
/// outputs, `AlertMessages` words the events, and `AlertStore` alone writes the tables.
///
/// A sample that changes no rule's state does no I/O. One that does commits its events and the
/// rules' states in one small transaction before `evaluate` returns, so a restart resumes
/// exactly (no second `fired` for a rule that was already firing).
///
/// **No lock is held across a SQLite write.** Each call computes under the engine's lock
/// (pure work, plus the GPIO switches the arbiter asks for, which must not wait on SQLite),
/// submits its write to the store's serial writer queue while still holding the lock, and
/// waits for it outside. When two sensors' tasks evaluate concurrently, the one that takes the
/// lock first computes first *and* is queued first, so transactions commit in the order the
/// states were computed; a later call already sees the earlier one's result in memory, and
/// event sequences follow that same order. See docs/ALERTS.md for what a silenced rule
/// records and what hardware must do alone.
public final class AlertEngine: Sendable {
    public let rules: [AlertRule]
    private let store: AlertStore
    private let clock: any DeviceClock
    private let driver: (any AlertOutputs)?
    private let rulesBySensor: [String: [Int]]
    private let ruleIndex: [String: Int]
    private let state: Mutex<EngineState>

    /// Restores each rule's persisted state, retires rules the profile no longer has and, when
    /// a driver is given, puts every output where the restored rules want it.
    public init(
        rules: [AlertRule], store: AlertStore, clock: any DeviceClock,
        outputs: [String: OutputPolicy] = [:], driver: (any AlertOutputs)? = nil
    ) throws {
        var bySensor: [String: [Int]] = [:]
        var index: [String: Int] = [:]
        for (i, rule) in rules.enumerated() {
            guard index[rule.id] == nil else { throw AlertEngineError.duplicateRule(rule.id) }
            index[rule.id] = i
            bySensor[rule.sensorID, default: []].append(i)
        }
        self.rules = rules
        self.store = store
        self.clock = clock
        self.driver = driver
        self.rulesBySensor = bySensor
        self.ruleIndex = index

        let (persisted, maintenance) = try store.load()
        let start = Self.instant(clock.now())
        try store.retire(persisted.values.filter { index[$0.ruleID] == nil }, at: start.wall)
        let slots = rules.map { rule in
            let record = persisted[rule.id]
            return RuleSlot(
                machine: record?.machine(for: rule, at: start) ?? RuleMachine(rule: rule, at: start),
                message: record?.message ?? "", silencedUntil: record?.silencedUntilMillis)
        }
        self.state = Mutex(EngineState(
            slots: slots, maintenanceUntil: maintenance, arbiter: OutputArbiter(rules: rules, policies: outputs)))
        if driver != nil { _ = try run(actuate: true) { _, _ in } }
    }

    /// Evaluates the rules on `sample.sensorID`. A sample that is not evidence (suspect or
    /// non-finite) is no evidence either way: it neither fires nor clears a rule, nor counts as
    /// fresh; only the time it brings moves `for:` and stale rules.
    @discardableResult
    public func evaluate(_ sample: Sample) throws -> [AlertEvent] {
        guard let indices = rulesBySensor[sample.sensorID] else { return [] }
        let observation: Observation = sample.isEvidence
            ? .value(sample.value, unit: sample.unit, takenAt: sample.time.unixMillis) : .time
        return try run { engine, step in
            for i in indices { engine.observe(i, observation, &step) }
        }
    }

    /// The driver reported an error for `sensorID`: its stale rules fire (after their `for:`).
    /// Value rules keep their state; a failed sensor is not a value.
    @discardableResult
    public func sensorFailed(_ sensorID: String, error: String) throws -> [AlertEvent] {
        guard let indices = rulesBySensor[sensorID] else { return [] }
        let observation = Observation.error(String(error.prefix(200)))
        return try run { engine, step in
            for i in indices { engine.observe(i, observation, &step) }
        }
    }

    /// Time-driven work: stale rules, pending rules whose `for:` elapsed, flapping that
    /// calmed down, silence and maintenance expiry, outputs that failed to switch. Also
    /// picks up silences and maintenance set from the CLI (acknowledgements need no pick-up:
    /// the engine never writes that column except to clear it for a new episode).
    @discardableResult
    public func tick() throws -> [AlertEvent] {
        let (persisted, maintenance) = try store.load()
        return try run(actuate: true) { engine, step in
            engine.maintenanceUntil = maintenance
            for i in engine.slots.indices {
                let rule = engine.slots[i].machine.rule
                if let record = persisted[rule.id] { engine.slots[i].silencedUntil = record.silencedUntilMillis }
                engine.observe(i, .time, &step)
                if let until = engine.slots[i].silencedUntil, until <= step.now.wall {
                    engine.slots[i].silencedUntil = nil
                    let event = AlertEvent(
                        sequence: 0, ruleID: rule.id, sensorID: rule.sensorID, kind: .unsilenced, severity: rule.severity,
                        value: nil, threshold: nil, timestampMillis: step.now.wall, activeSinceMillis: nil,
                        message: AlertMessages.unsilenced(rule.id))
                    step.batch.items.append(.endSilence(event, ruleID: rule.id, until: until))
                }
            }
            if let until = engine.maintenanceUntil, until <= step.now.wall {
                engine.maintenanceUntil = nil
                let event = AlertEvent.device(.maintenanceEnded, at: step.now.wall, message: AlertMessages.maintenanceEnded)
                step.batch.items.append(.endMaintenance(event, until: until))
            }
        }
    }

    /// Acknowledges a firing or flapping rule. Works from any engine on the same file (the
    /// CLI's): the check and the write run against the database, not this engine's memory.
    public func acknowledge(ruleID: String) throws -> AlertEvent {
        guard let i = ruleIndex[ruleID] else { throw AlertEngineError.unknownRule(ruleID) }
        return try store.acknowledge(rules[i], at: clock.now().unixMillis)
    }

    /// Silences `ruleID` until `until` (Unix ms). The rule keeps evaluating, recording and
    /// acting; its events carry `silenced = true` so nobody is notified. `tick()` records
    /// `unsilenced` when the time passes.
    public func silence(ruleID: String, until: Int64) throws -> AlertEvent {
        guard let i = ruleIndex[ruleID] else { throw AlertEngineError.unknownRule(ruleID) }
        let now = clock.now().unixMillis
        guard until > now else { throw AlertEngineError.expiryInPast(until: until, now: now) }
        let current = state.withLock { AlertStateRecord($0.slots[i].machine, message: $0.slots[i].message) }
        let event = try store.silence(current, until: until, at: now)
        state.withLock { $0.slots[i].silencedUntil = until }
        return event
    }

    /// Starts maintenance until `until` (Unix ms), silencing every rule as `silence` does;
    /// `nil` ends it now.
    public func maintenance(until: Int64?) throws -> AlertEvent {
        let now = clock.now().unixMillis
        if let until, until <= now { throw AlertEngineError.expiryInPast(until: until, now: now) }
        let event = try store.maintenance(until: until, at: now)
        state.withLock { $0.maintenanceUntil = until }
        return event
    }

    /// Drives every declared output to its fail-safe state, recording each; for the agent's
    /// stop path and `edge-agent failsafe`. An output that fails to switch is recorded as such
    /// and the others are still tried.
    @discardableResult
    public func failSafe() throws -> [AlertEvent] {
        guard let driver else { return [] }
        return try run { engine, step in
            for action in engine.arbiter.failSafePlan {
                let error = Self.switchOutput(driver, action)
                step.driven.append(action.output)
                if let event = engine.arbiter.settle(action, error: error, kind: .failSafe, at: step.now.wall) {
                    step.batch.items.append(.event(event))
                }
            }
        }
    }

    // MARK: - Coordination

    /// Runs `decide` under the lock, switches the outputs the arbiter then wants (always with
    /// `actuate`, else only when a rule changed), submits the write in lock order and waits
    /// for it outside the lock. Returns at once, with no I/O, when nothing changed.
    private func run(actuate: Bool = false, _ decide: (inout EngineState, inout Step) -> Void) throws -> [AlertEvent] {
        let now = Self.instant(clock.now())
        let pending = state.withLock { engine -> PendingWrite<[AlertEvent]>? in
            var step = Step(now: now)
            decide(&engine, &step)
            if actuate || !step.changed.isEmpty { switchOutputs(&engine, &step) }
            guard !step.changed.isEmpty || !step.batch.items.isEmpty else { return nil }
            return submit(step, from: &engine)
        }
        return try pending?.wait() ?? []
    }

    /// Asks the arbiter where outputs should be and makes the switches: the GPIO edge.
    private func switchOutputs(_ engine: inout EngineState, _ step: inout Step) {
        guard let driver else { return }
        let standings = engine.slots.map { Standing(holds: $0.machine.holdsOutput, flapping: $0.machine.flapping) }
        for action in engine.arbiter.plan(standings, changed: step.changed, reported: step.reported) {
            let error = Self.switchOutput(driver, action)
            step.driven.append(action.output)
            if let event = engine.arbiter.settle(action, error: error, at: step.now.wall) {
                step.batch.items.append(.event(event))
            }
        }
    }

    private static func switchOutput(_ driver: any AlertOutputs, _ action: Actuation) -> (any Error)? {
        do {
            try driver.set(action.output, on: action.on)
            return nil
        } catch {
            return error
        }
    }

    /// Queues `step`'s write (called under the lock, so queue order is lock order). The write
    /// is refused if an earlier one failed after this was computed; once written or refused,
    /// still on the writer's queue, its outcome is settled into the engine's state.
    private func submit(_ step: Step, from engine: inout EngineState) -> PendingWrite<[AlertEvent]> {
        var batch = step.batch
        batch.states = step.changed.map { i in
            (AlertStateRecord(engine.slots[i].machine, message: engine.slots[i].message), step.reported.contains(i))
        }
        let epoch = engine.epoch
        let written = step.changed.map { ($0, engine.slots[$0]) }
        let driven = step.driven
        return store.submit({ [self, batch] db in
            try state.withLock { if $0.epoch != epoch { throw AlertEngineError.writeAbandoned } }
            return try AlertStore.commit(batch, db)
        }, settle: { [self] result in
            state.withLock { engine in
                switch result {
                case .success:
                    for (i, slot) in written { engine.committed[i] = slot }
                case .failure:
                    // The rules keep their last committed state, and the same transitions come
                    // again with the next sample or tick. Every write queued after this one was
                    // computed on top of it and is refused (the epoch moved); the relays did move,
                    // so forget where they were driven and the next commit drives and records them.
                    if engine.epoch == epoch { engine.epoch &+= 1 }
                    engine.rollBack()
                    engine.arbiter.forget(driven)
                }
            }
        })
    }

    private static func instant(_ time: DeviceTime) -> Instant {
        Instant(wall: time.unixMillis, mono: Int64(time.bootNanos / 1_000_000))
    }
}
