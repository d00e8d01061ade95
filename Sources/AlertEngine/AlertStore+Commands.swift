import GRDB

/// The operators' commands and the start-up clean-up: each writes its rows and its event in
/// one transaction, checked against the database rather than an engine's memory, so the
/// CLI's engine and the daemon's act on the same truth.
extension AlertStore {
    /// Acknowledges `rule` if it fires or flaps in the database.
    func acknowledge(_ rule: AlertRule, at now: Int64) throws -> AlertEvent {
        try writer.write { db in
            guard let state = try AlertStateRecord.find(db, rule.id), state.isAcknowledgeable else {
                throw AlertEngineError.notActive(rule.id)
            }
            try AlertStateRecord.setAcknowledged(db, rule.id)
            return try Self.insert(AlertEvent(
                sequence: 0, ruleID: rule.id, sensorID: rule.sensorID, kind: .acknowledged, severity: rule.severity,
                value: state.lastValue, threshold: nil, timestampMillis: now, activeSinceMillis: state.firedAtMillis,
                message: AlertMessages.acknowledged(state.message)), db)
        }
    }

    /// Silences the rule whose current episode is `current` until `until`; a rule that has
    /// never been written gets its row first, so the silence has somewhere to live.
    func silence(_ current: AlertStateRecord, until: Int64, at now: Int64) throws -> AlertEvent {
        try writer.write { db in
            try current.insertIfMissing(db)
            try AlertStateRecord.setSilence(db, current.ruleID, until: until)
            return try Self.insert(AlertEvent(
                sequence: 0, ruleID: current.ruleID, sensorID: current.sensorID, kind: .silenced,
                severity: current.severity, value: nil, threshold: nil, timestampMillis: now, activeSinceMillis: nil,
                message: AlertMessages.silenced(current.ruleID, until: until)), db)
        }
    }

    /// Starts maintenance until `until`, or ends it now (`nil`; `notInMaintenance` if none).
    func maintenance(until: Int64?, at now: Int64) throws -> AlertEvent {
        try writer.write { db in
            guard let until else {
                guard try MaintenanceRecord.end(db) else { throw AlertEngineError.notInMaintenance }
                return try Self.insert(.device(.maintenanceEnded, at: now, message: AlertMessages.maintenanceEnded), db)
            }
            try MaintenanceRecord(untilMillis: until).start(db)
            return try Self.insert(.device(.maintenanceStarted, at: now, message: AlertMessages.maintenance(until: until)), db)
        }
    }

    /// Rules that are no longer in the profile: one still firing is resolved, so the server
    /// does not show it firing forever, and its state row goes.
    func retire(_ orphans: [AlertStateRecord], at now: Int64) throws {
        guard !orphans.isEmpty else { return }
        try writer.write { db in
            for orphan in orphans.sorted(by: { $0.ruleID < $1.ruleID }) {
                if orphan.isAcknowledgeable {
                    _ = try Self.insert(AlertEvent(
                        sequence: 0, ruleID: orphan.ruleID, sensorID: orphan.sensorID, kind: .resolved,
                        severity: orphan.severity, value: orphan.lastValue, threshold: nil, timestampMillis: now,
                        activeSinceMillis: orphan.firedAtMillis, message: AlertMessages.removed(orphan.ruleID)), db)
                }
                try AlertStateRecord.delete(db, orphan.ruleID)
            }
        }
    }
}

extension AlertEvent {
    /// An event about the device rather than one rule: rule and sensor `*`.
    static func device(_ kind: Kind, at now: Int64, message: String) -> AlertEvent {
        AlertEvent(
            sequence: 0, ruleID: "*", sensorID: "*", kind: kind, severity: .info, value: nil, threshold: nil,
            timestampMillis: now, activeSinceMillis: nil, message: message)
    }
}

extension AlertStateRecord {
    /// The rule's machine resuming this episode at `now`.
    func machine(for rule: AlertRule, at now: Instant) -> RuleMachine {
        var machine = RuleMachine(rule: rule, at: now, phase: phase, since: sinceMillis)
        machine.flapping = flapping
        machine.reportedFiring = reportedFiring
        machine.firedAt = firedAtMillis
        machine.lastValue = lastValue
        machine.flapChanges = flapChanges
        return machine
    }
}
