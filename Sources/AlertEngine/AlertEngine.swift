import EdgeCore
import Foundation
import GRDB
import Readings
import Synchronization

/// Evaluates each new reading against the profile's rules, keeps each rule's state, writes
/// the transitions a person cares about as events, and drives the outputs rules act on.
///
/// Rules move inactive → pending (condition true, `for:` running) → firing → inactive, as
/// in Prometheus. A reading that changes no rule's state does no I/O; one that does commits
/// its events and the rule's state in one small transaction before `evaluate` returns, so a
/// restart resumes exactly (no second `fired` for a rule that was already firing).
/// See docs/ALERTS.md for what a silenced rule records and what hardware must do alone.
public final class AlertEngine: Sendable {
    public let rules: [AlertRule]
    private let store: AlertStore
    private let clock: any DeviceClock
    private let outputPolicies: [String: OutputPolicy]
    private let driver: (any AlertOutputs)?
    private let rulesBySensor: [String: [Int]]
    private let ruleIndex: [String: Int]
    /// Every output a rule drives or the profile declares, sorted, with its normal state.
    private let normalStates: [(output: String, normal: Bool)]
    private let state: Mutex<EngineState>

    /// Restores each rule's persisted state and, when a driver is given, puts every output
    /// where the restored rules want it (their normal state unless a firing rule holds it).
    public init(
        rules: [AlertRule], store: AlertStore, clock: any DeviceClock,
        outputs: [String: OutputPolicy] = [:], driver: (any AlertOutputs)? = nil
    ) throws {
        self.rules = rules
        self.store = store
        self.clock = clock
        self.outputPolicies = outputs
        self.driver = driver
        var bySensor: [String: [Int]] = [:]
        var index: [String: Int] = [:]
        var normals: [String: Bool] = outputs.mapValues(\.normal)
        for (i, rule) in rules.enumerated() {
            bySensor[rule.sensorID, default: []].append(i)
            guard index[rule.id] == nil else { throw AlertEngineError.duplicateRule(rule.id) }
            index[rule.id] = i
            if let action = rule.action, normals[action.output] == nil { normals[action.output] = !action.state }
        }
        self.rulesBySensor = bySensor
        self.ruleIndex = index
        self.normalStates = normals.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }

        let (persisted, maintenance) = try store.writer.read { db in
            (try AlertStore.loadStates(db), try AlertStore.maintenanceUntil(db))
        }
        let start = clock.now()
        let now = start.unixMillis
        let mono = Self.monotonicMillis(start)
        try Self.retire(persisted.values.filter { index[$0.ruleID] == nil }, store: store, now: now)
        let runtimes = rules.map { rule in
            var p = persisted[rule.id] ?? PersistedState(
                ruleID: rule.id, sensorID: rule.sensorID, severity: rule.severity, phase: .inactive,
                sinceMillis: now, flapping: false, reportedFiring: false, firedAtMillis: nil, lastValue: nil,
                message: "", flapChanges: [], silencedUntilMillis: nil)
            p.sensorID = rule.sensorID
            p.severity = rule.severity
            // A restored pending rule keeps the time it has already waited.
            let waited = p.phase == .pending ? max(0, now - p.sinceMillis) : 0
            return RuleRuntime(persisted: p, pendingSinceMono: mono - waited, lastValidMono: mono, rate: RateWindow(rule.condition))
        }
        self.state = Mutex(EngineState(rules: runtimes, maintenanceUntil: maintenance, mono: mono))
        if driver != nil {
            _ = try run { work, batch, _ in self.applyOutputs(&work, &batch, now: now) }
        }
    }

    /// Evaluates the rules on `reading.sensorID`. A suspect or non-finite value is no
    /// evidence either way: it neither fires nor clears a rule, nor counts as fresh.
    @discardableResult
    public func evaluate(_ reading: Reading) throws -> [AlertEvent] {
        guard let indices = rulesBySensor[reading.sensorID] else { return [] }
        let valid = reading.quality != .suspect && reading.value.isFinite
        let observation: Observation = valid
            ? .value(reading.value, unit: reading.unit, takenAt: reading.timestampMillis) : .time
        return try run { work, batch, now in
            for i in indices { self.observe(i, observation, now: now, &work, &batch) }
        }
    }

    /// The driver reported an error for `sensorID`: its stale rules fire (after their `for:`).
    /// Value rules keep their state; a failed sensor is not a value.
    @discardableResult
    public func sensorFailed(_ sensorID: String, error: String) throws -> [AlertEvent] {
        guard let indices = rulesBySensor[sensorID] else { return [] }
        let reason = String(error.prefix(200))
        return try run { work, batch, now in
            for i in indices { self.observe(i, .error(reason), now: now, &work, &batch) }
        }
    }

    /// Time-driven work: stale rules, pending rules whose `for:` elapsed, flapping that
    /// calmed down, silence and maintenance expiry, outputs that failed to switch. Also
    /// picks up silences and maintenance set from the CLI (acknowledgements need no pick-up:
    /// the engine never writes that column except to clear it for a new episode).
    @discardableResult
    public func tick() throws -> [AlertEvent] {
        let (persisted, maintenance) = try store.writer.read { db in
            (try AlertStore.loadStates(db), try AlertStore.maintenanceUntil(db))
        }
        return try run { work, batch, now in
            work.maintenanceUntil = maintenance
            for i in self.rules.indices {
                if let p = persisted[self.rules[i].id] {
                    work.rules[i].persisted.silencedUntilMillis = p.silencedUntilMillis
                }
                self.observe(i, .time, now: now, &work, &batch)
                if let until = work.rules[i].persisted.silencedUntilMillis, until <= now {
                    work.rules[i].persisted.silencedUntilMillis = nil
                    let rule = self.rules[i]
                    batch.items.append(.conditional(
                        AlertEvent(
                            sequence: 0, ruleID: rule.id, sensorID: rule.sensorID, kind: .unsilenced,
                            severity: rule.severity, value: nil, threshold: nil, timestampMillis: now,
                            activeSinceMillis: nil, message: "Silence ended for \(rule.id)"),
                        sql: "UPDATE alert_state SET silenced_until_ms = NULL WHERE rule_id = ? AND silenced_until_ms = ?",
                        arguments: [rule.id, until]))
                }
            }
            if let until = work.maintenanceUntil, until <= now {
                work.maintenanceUntil = nil
                batch.items.append(.conditional(
                    Self.deviceEvent(.maintenanceEnded, now: now, message: "Maintenance ended"),
                    sql: "DELETE FROM alert_maintenance WHERE id = 1 AND until_ms = ?", arguments: [until]))
            }
            self.applyOutputs(&work, &batch, now: now)
        }
    }

    /// Acknowledges a firing or flapping rule. Works from any engine on the same file (the
    /// CLI's): the check and the write run against the database, not this engine's memory.
    public func acknowledge(ruleID: String) throws -> AlertEvent {
        guard let i = ruleIndex[ruleID] else { throw AlertEngineError.unknownRule(ruleID) }
        let rule = rules[i]
        let now = clock.now().unixMillis
        return try state.withLock { engine in
            let event = try store.writer.write { db -> AlertEvent in
                guard let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM alert_state WHERE rule_id = ? AND (reported_firing = 1 OR flapping = 1)",
                    arguments: [ruleID])
                else { throw AlertEngineError.notActive(ruleID) }
                try db.execute(sql: "UPDATE alert_state SET acknowledged = 1 WHERE rule_id = ?", arguments: [ruleID])
                let message: String = row["message"]
                return try AlertStore.insert(AlertEvent(
                    sequence: 0, ruleID: ruleID, sensorID: rule.sensorID, kind: .acknowledged, severity: rule.severity,
                    value: row["last_value"], threshold: nil, timestampMillis: now,
                    activeSinceMillis: row["fired_at_ms"], message: "Acknowledged: \(message)"), db)
            }
            return event
        }
    }

    /// Silences `ruleID` until `until` (Unix ms). The rule keeps evaluating, recording and
    /// acting; its events carry `silenced = true` so nobody is notified. `tick()` records
    /// `unsilenced` when the time passes.
    public func silence(ruleID: String, until: Int64) throws -> AlertEvent {
        guard let i = ruleIndex[ruleID] else { throw AlertEngineError.unknownRule(ruleID) }
        let rule = rules[i]
        let now = clock.now().unixMillis
        guard until > now else { throw AlertEngineError.expiryInPast(until: until, now: now) }
        return try state.withLock { engine in
            let current = engine.rules[i].persisted
            let event = try store.writer.write { db -> AlertEvent in
                if try !Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM alert_state WHERE rule_id = ?)", arguments: [ruleID])! {
                    try AlertStore.save(current, clearAcknowledged: false, db)
                }
                try db.execute(
                    sql: "UPDATE alert_state SET silenced_until_ms = ? WHERE rule_id = ?", arguments: [until, ruleID])
                return try AlertStore.insert(AlertEvent(
                    sequence: 0, ruleID: ruleID, sensorID: rule.sensorID, kind: .silenced, severity: rule.severity,
                    value: nil, threshold: nil, timestampMillis: now, activeSinceMillis: nil,
                    message: "Silenced \(ruleID) until \(Self.iso(until))"), db)
            }
            engine.rules[i].persisted.silencedUntilMillis = until
            return event
        }
    }

    /// Starts maintenance until `until` (Unix ms), silencing every rule as `silence` does;
    /// `nil` ends it now.
    public func maintenance(until: Int64?) throws -> AlertEvent {
        let now = clock.now().unixMillis
        if let until, until <= now { throw AlertEngineError.expiryInPast(until: until, now: now) }
        return try state.withLock { engine in
            let event = try store.writer.write { db -> AlertEvent in
                guard let until else {
                    try db.execute(sql: "DELETE FROM alert_maintenance WHERE id = 1")
                    guard db.changesCount > 0 else { throw AlertEngineError.notInMaintenance }
                    return try AlertStore.insert(Self.deviceEvent(.maintenanceEnded, now: now, message: "Maintenance ended"), db)
                }
                try db.execute(sql: "INSERT OR REPLACE INTO alert_maintenance (id, until_ms) VALUES (1, ?)", arguments: [until])
                return try AlertStore.insert(
                    Self.deviceEvent(.maintenanceStarted, now: now, message: "Maintenance until \(Self.iso(until))"), db)
            }
            engine.maintenanceUntil = until
            return event
        }
    }

    /// Drives every declared output to its fail-safe state, recording each; for the agent's
    /// stop path and `edge-agent failsafe`. An output that fails to switch is recorded as such
    /// and the others are still tried.
    @discardableResult
    public func failSafe() throws -> [AlertEvent] {
        guard let driver else { return [] }
        return try run { work, batch, now in
            for (output, policy) in self.outputPolicies.sorted(by: { $0.key < $1.key }) {
                var event = Self.deviceEvent(.failSafe, now: now, message: "")
                event.output = output
                do {
                    try driver.set(output, on: policy.failSafe)
                    work.outputs[output] = policy.failSafe
                    event.value = policy.failSafe ? 1 : 0
                    event.message = "\(output) \(policy.failSafe ? "on" : "off") (fail-safe)"
                } catch {
                    work.outputs[output] = nil
                    event.message = "could not switch \(output) \(policy.failSafe ? "on" : "off") (fail-safe): \(error)"
                }
                batch.items.append(.event(event))
            }
        }
    }

    /// Rules that are no longer in the profile: one still firing is resolved, so the server
    /// does not show it firing forever, and its state row goes.
    private static func retire(_ orphans: [PersistedState], store: AlertStore, now: Int64) throws {
        guard !orphans.isEmpty else { return }
        try store.writer.write { db in
            for orphan in orphans.sorted(by: { $0.ruleID < $1.ruleID }) {
                if orphan.reportedFiring || orphan.flapping {
                    _ = try AlertStore.insert(AlertEvent(
                        sequence: 0, ruleID: orphan.ruleID, sensorID: orphan.sensorID, kind: .resolved,
                        severity: orphan.severity, value: orphan.lastValue, threshold: nil, timestampMillis: now,
                        activeSinceMillis: orphan.firedAtMillis,
                        message: "Resolved: rule \(orphan.ruleID) was removed from the profile"), db)
                }
                try db.execute(sql: "DELETE FROM alert_state WHERE rule_id = ?", arguments: [orphan.ruleID])
            }
        }
    }

    // MARK: - Evaluation

    /// Runs `body` on a copy of the state; commits its events and dirty rule states in one
    /// transaction (none when nothing changed), and only then adopts the copy.
    private func run(_ body: (inout EngineState, inout Batch, Int64) throws -> Void) throws -> [AlertEvent] {
        let time = clock.now()
        let now = time.unixMillis
        return try state.withLock { engine in
            var work = engine
            work.mono = Self.monotonicMillis(time)
            var batch = Batch()
            try body(&work, &batch, now)
            if !batch.dirty.isEmpty { applyOutputs(&work, &batch, now: now) }
            guard !batch.items.isEmpty || !batch.dirty.isEmpty else {
                engine = work
                return []
            }
            let stored: [AlertEvent]
            do {
                stored = try commit(batch, work)
            } catch {
                // The relays did move: forget what they were driven to, so the next call that
                // commits drives them again and records it. The rules keep their old state and
                // the same transitions come again with the next reading or tick.
                for (output, _) in normalStates where work.outputs[output] != engine.outputs[output] {
                    engine.outputs[output] = nil
                }
                throw error
            }
            engine = work
            return stored
        }
    }

    private func commit(_ batch: Batch, _ work: EngineState) throws -> [AlertEvent] {
        try store.writer.write { db -> [AlertEvent] in
            for i in batch.dirty.sorted() {
                try AlertStore.save(work.rules[i].persisted, clearAcknowledged: batch.reported.contains(i), db)
            }
            var stored: [AlertEvent] = []
            for item in batch.items {
                switch item {
                case .event(let event):
                    stored.append(try AlertStore.insert(event, db))
                case .conditional(let event, let sql, let arguments):
                    try db.execute(sql: sql, arguments: arguments)
                    if db.changesCount > 0 { stored.append(try AlertStore.insert(event, db)) }
                }
            }
            return stored
        }
    }

    private func observe(_ i: Int, _ observation: Observation, now: Int64, _ work: inout EngineState, _ batch: inout Batch) {
        let rule = rules[i]
        var r = work.rules[i]
        var condition: Bool?
        switch rule.condition {
        case .stale(let after):
            switch observation {
            case .value:
                r.lastValidMono = work.mono
                r.sensorError = nil
            case .error(let reason): r.sensorError = reason
            case .time: break
            }
            let age = work.mono - r.lastValidMono
            condition = r.sensorError != nil || age >= after.saturatingMillis
            r.persisted.lastValue = Double(age) / 1000
            r.unit = "s"
        case .threshold(let op, let threshold, let clear):
            if case .value(let v, _, _) = observation {
                if r.persisted.phase == .firing, let clear {
                    let passedClear = switch op {
                    case .greater, .greaterOrEqual: v < clear
                    case .less, .lessOrEqual: v > clear
                    case .equal, .notEqual: !op.holds(v, threshold)
                    }
                    condition = !passedClear
                } else {
                    condition = op.holds(v, threshold)
                }
            }
        case .band(let low, let high, let margin):
            if case .value(let v, _, _) = observation {
                condition = r.persisted.phase == .firing
                    ? !(v >= low + margin && v <= high - margin) : (v < low || v > high)
            }
        case .rateOfChange(let limit, _):
            if case .value(let v, _, let takenAt) = observation, var window = r.rate {
                let change = window.change(to: v, at: takenAt)
                r.rate = window
                condition = limit < 0 ? change < limit : change > limit
                r.persisted.lastValue = change
            }
        case .switchState(let active):
            if case .value(let v, _, _) = observation { condition = (v >= 0.5) == active }
        }
        if case .value(let v, let unit, _) = observation, !rule.condition.isStale {
            r.unit = unit
            if !rule.condition.isRate { r.persisted.lastValue = v }
        }
        transition(i, &r, condition: condition, now: now, mono: work.mono, &batch, silenced: work.silenced(r, now: now))
        work.rules[i] = r
    }

    /// Moves rule `i` on `condition` (`nil`: no new evidence, only time passed). `for:` is
    /// measured on the monotonic clock (`mono`), so an NTP step cannot cut it short.
    private func transition(
        _ i: Int, _ r: inout RuleRuntime, condition: Bool?, now: Int64, mono: Int64, _ batch: inout Batch, silenced: Bool
    ) {
        let rule = rules[i]
        switch r.persisted.phase {
        case .inactive:
            if condition == true {
                if rule.holdFor.saturatingMillis <= 0 {
                    change(i, &r, firing: true, now: now, &batch, silenced: silenced)
                } else {
                    r.persisted.phase = .pending
                    r.persisted.sinceMillis = now
                    r.pendingSinceMono = mono
                    batch.dirty.insert(i)
                }
            }
        case .pending:
            if condition == false {
                r.persisted.phase = .inactive
                r.persisted.sinceMillis = now
                batch.dirty.insert(i)
            } else if mono - r.pendingSinceMono >= rule.holdFor.saturatingMillis {
                change(i, &r, firing: true, now: now, &batch, silenced: silenced)
            }
        case .firing:
            if condition == false { change(i, &r, firing: false, now: now, &batch, silenced: silenced) }
        }
        if r.persisted.flapping, now - (r.persisted.flapChanges.last ?? r.persisted.sinceMillis) >= rule.flapping.window.saturatingMillis {
            r.persisted.flapping = false
            r.persisted.flapChanges = []
            batch.dirty.insert(i)
            batch.items.append(.event(event(.flappingEnded, i, r, now: now, silenced: silenced, prefix: "Stopped flapping: ")))
            let firing = r.persisted.phase == .firing
            if firing != r.persisted.reportedFiring { report(i, &r, firing: firing, now: now, &batch, silenced: silenced) }
        }
    }

    /// The condition's state changed (inactive ↔ firing): reported unless the rule flaps.
    private func change(_ i: Int, _ r: inout RuleRuntime, firing: Bool, now: Int64, _ batch: inout Batch, silenced: Bool) {
        let policy = rules[i].flapping
        r.persisted.phase = firing ? .firing : .inactive
        r.persisted.sinceMillis = now
        r.persisted.flapChanges.append(now)
        r.persisted.flapChanges.removeAll { $0 <= now - policy.window.saturatingMillis }
        if r.persisted.flapChanges.count > policy.changes + 1 {
            r.persisted.flapChanges.removeFirst(r.persisted.flapChanges.count - policy.changes - 1)
        }
        batch.dirty.insert(i)
        if r.persisted.flapping { return }
        if r.persisted.flapChanges.count > policy.changes {
            r.persisted.flapping = true
            r.persisted.message = interpolate(i, r)
            batch.items.append(.event(event(.flapping, i, r, now: now, silenced: silenced,
                prefix: "Flapping (\(r.persisted.flapChanges.count) changes in \(policy.window.saturatingMillis / 1000) s): ")))
            return
        }
        report(i, &r, firing: firing, now: now, &batch, silenced: silenced)
    }

    private func report(_ i: Int, _ r: inout RuleRuntime, firing: Bool, now: Int64, _ batch: inout Batch, silenced: Bool) {
        batch.dirty.insert(i)
        batch.reported.insert(i)
        if firing {
            r.persisted.firedAtMillis = now
            r.persisted.reportedFiring = true
            r.persisted.message = interpolate(i, r)
            batch.items.append(.event(event(.fired, i, r, now: now, silenced: silenced, prefix: "")))
        } else {
            batch.items.append(.event(event(.resolved, i, r, now: now, silenced: silenced, prefix: "Resolved: ")))
            r.persisted.reportedFiring = false
            r.persisted.firedAtMillis = nil
        }
    }

    private func event(_ kind: AlertEvent.Kind, _ i: Int, _ r: RuleRuntime, now: Int64, silenced: Bool, prefix: String) -> AlertEvent {
        let rule = rules[i]
        return AlertEvent(
            sequence: 0, ruleID: rule.id, sensorID: rule.sensorID, kind: kind, severity: rule.severity,
            value: r.persisted.lastValue, threshold: threshold(rule, value: r.persisted.lastValue, resolving: kind == .resolved),
            timestampMillis: now, activeSinceMillis: r.persisted.firedAtMillis ?? (kind == .flapping ? now : nil),
            message: prefix + interpolate(i, r), silenced: silenced)
    }

    /// The limit the value was compared with: the clear edge on resolve when there is one.
    private func threshold(_ rule: AlertRule, value: Double?, resolving: Bool) -> Double? {
        switch rule.condition {
        case .threshold(_, let value, let clear): resolving ? (clear ?? value) : value
        case .band(let low, let high, _): value.map { $0 < (low + high) / 2 ? low : high }
        case .stale(let after): Double(after.saturatingMillis) / 1000
        case .rateOfChange(let limit, _): limit
        case .switchState(let active): active ? 1 : 0
        }
    }

    private func interpolate(_ i: Int, _ r: RuleRuntime) -> String {
        let rule = rules[i]
        let template = rule.description.isEmpty ? Self.defaultDescription(rule.condition) : rule.description
        var text = template
            .replacingOccurrences(of: "{value}", with: r.persisted.lastValue.map(Self.format) ?? "n/a")
            .replacingOccurrences(
                of: "{threshold}", with: threshold(rule, value: r.persisted.lastValue, resolving: false).map(Self.format) ?? "n/a")
            .replacingOccurrences(of: "{sensor}", with: rule.sensorID)
            .replacingOccurrences(of: "{unit}", with: r.unit)
        if let error = r.sensorError { text += " (sensor error: \(error))" }
        return text
    }

    /// The text for a rule whose profile gives no `description`.
    private static func defaultDescription(_ condition: AlertRule.Condition) -> String {
        switch condition {
        case .threshold, .band: "{sensor} is {value} {unit} (limit {threshold})"
        case .stale: "No valid reading from {sensor} for {value} s"
        case .rateOfChange: "{sensor} changed by {value} {unit} (limit {threshold})"
        case .switchState: "{sensor} reads {value}"
        }
    }

    // MARK: - Outputs

    /// Puts each output where the rules want it: the action state of the first rule (in
    /// profile order) that fires or flaps with an action on it, else its normal state. Only
    /// outputs whose wanted state differs from the last one driven are touched.
    private func applyOutputs(_ work: inout EngineState, _ batch: inout Batch, now: Int64) {
        guard let driver else { return }
        for (output, normal) in normalStates {
            let holder = rules.indices.first { i in
                rules[i].action?.output == output
                    && (work.rules[i].persisted.reportedFiring || work.rules[i].persisted.flapping)
            }
            let wanted = holder.map { rules[$0].action!.state } ?? normal
            guard work.outputs[output] != wanted else { continue }
            let rule = holder ?? batch.dirty.sorted().first { rules[$0].action?.output == output }
            let reason = rule.map { i in
                let why = holder != nil ? (work.rules[i].persisted.flapping ? "flapping" : "fired")
                    : (batch.reported.contains(i) ? "resolved" : "released")
                return "rule \(rules[i].id) \(why)"
            } ?? "start-up"
            var event = AlertEvent(
                sequence: 0, ruleID: rule.map { rules[$0].id } ?? "*", sensorID: rule.map { rules[$0].sensorID } ?? "*",
                kind: .actuated, severity: rule.map { rules[$0].severity } ?? .info, value: nil, threshold: nil,
                timestampMillis: now, activeSinceMillis: nil, message: "", output: output)
            do {
                try driver.set(output, on: wanted)
                work.outputs[output] = wanted
                work.failedOutputs.remove(output)
                event.value = wanted ? 1 : 0
                event.message = "\(output) \(wanted ? "on" : "off") (\(reason))"
            } catch {
                work.outputs[output] = nil
                // Retried on every tick; recorded once until it works again.
                guard work.failedOutputs.insert(output).inserted else { continue }
                event.message = "could not switch \(output) \(wanted ? "on" : "off") (\(reason)): \(error)"
            }
            batch.items.append(.event(event))
        }
    }

    // MARK: - Helpers

    private static func deviceEvent(_ kind: AlertEvent.Kind, now: Int64, message: String) -> AlertEvent {
        AlertEvent(
            sequence: 0, ruleID: "*", sensorID: "*", kind: kind, severity: .info, value: nil, threshold: nil,
            timestampMillis: now, activeSinceMillis: nil, message: message)
    }

    private static func monotonicMillis(_ time: DeviceTime) -> Int64 { Int64(time.bootNanos / 1_000_000) }

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

/// What a rule learns from one call.
private enum Observation {
    case value(Double, unit: String, takenAt: Int64)
    case error(String)
    case time
}

/// What one call will commit.
private struct Batch {
    enum Item {
        case event(AlertEvent)
        /// An event recorded only if `sql` changed a row: expiry that the CLI may already have undone.
        case conditional(AlertEvent, sql: String, arguments: StatementArguments)
    }
    var items: [Item] = []
    var dirty: Set<Int> = []
    /// Rules that recorded `fired` or `resolved`: a new or ended episode clears the acknowledgement.
    var reported: Set<Int> = []
}

struct RuleRuntime: Sendable {
    var persisted: PersistedState
    /// When the rule went pending, on the monotonic clock (ms since boot).
    var pendingSinceMono: Int64
    /// When the last valid reading arrived (monotonic ms); the engine's start after a restart,
    /// so a wall-clock step after boot cannot make every sensor look stale.
    var lastValidMono: Int64
    var sensorError: String?
    var unit = ""
    var rate: RateWindow?

    init(persisted: PersistedState, pendingSinceMono: Int64, lastValidMono: Int64, rate: RateWindow?) {
        self.persisted = persisted
        self.pendingSinceMono = pendingSinceMono
        self.lastValidMono = lastValidMono
        self.rate = rate
    }
}

struct EngineState: Sendable {
    var rules: [RuleRuntime]
    var maintenanceUntil: Int64?
    /// The state each output was last driven to; absent when unknown or the switch failed.
    var outputs: [String: Bool] = [:]
    var failedOutputs: Set<String> = []
    /// The monotonic clock (ms since boot) at the current call.
    var mono: Int64

    init(rules: [RuleRuntime], maintenanceUntil: Int64?, mono: Int64) {
        self.rules = rules
        self.maintenanceUntil = maintenanceUntil
        self.mono = mono
    }

    func silenced(_ r: RuleRuntime, now: Int64) -> Bool {
        (r.persisted.silencedUntilMillis.map { $0 > now } ?? false) || (maintenanceUntil.map { $0 > now } ?? false)
    }
}

/// The readings a rate-of-change rule compares against: at most 129 samples however fast
/// the sensor reports, spaced at least window/128 apart.
struct RateWindow: Sendable {
    static let samples: Int64 = 128
    let window: Int64
    let falling: Bool
    private var points: [(t: Int64, v: Double)] = []

    init?(_ condition: AlertRule.Condition) {
        guard case .rateOfChange(let limit, let window) = condition else { return nil }
        self.window = max(window.saturatingMillis, 1)
        self.falling = limit < 0
    }

    /// The change from the window's highest value (falling rules) or lowest (rising rules)
    /// to `value`; 0 with no earlier sample. A timestamp earlier than the newest sample (a
    /// clock step) starts the window afresh.
    mutating func change(to value: Double, at t: Int64) -> Double {
        if let last = points.last, t < last.t { points.removeAll() }
        points.removeAll { $0.t < t - window }
        let extreme = falling ? points.map(\.v).max() : points.map(\.v).min()
        if points.isEmpty || t - points[points.count - 1].t >= window / Self.samples {
            points.append((t, value))
        }
        return extreme.map { value - $0 } ?? 0
    }
}

extension AlertRule.Condition {
    var isStale: Bool { if case .stale = self { true } else { false } }
    var isRate: Bool { if case .rateOfChange = self { true } else { false } }
}
