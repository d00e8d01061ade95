import AlertEngine
import Wire

/// The alert store's log is what Sync sends as the events stream.
extension AlertStore: SyncEventSource {
    public func syncEvents(afterSequence: Int64, limit: Int) throws -> [WireAlertEvent] {
        try events(afterSequence: afterSequence, limit: min(limit, AlertStore.maxLimit)).map {
            WireAlertEvent(sequence: $0.sequence, ruleID: $0.ruleID, sensorID: $0.sensorID, kind: $0.kind.rawValue,
                           severity: $0.severity.rawValue, value: $0.value, threshold: $0.threshold,
                           timestampMillis: $0.timestampMillis, activeSinceMillis: $0.activeSinceMillis, message: $0.message)
        }
    }

    public func syncEventBacklog(afterSequence: Int64) throws -> Int {
        try eventBacklog(afterSequence: afterSequence)
    }
}
