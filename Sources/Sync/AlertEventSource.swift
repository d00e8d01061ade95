import AlertEngine
import Wire

/// The alert store's log is what Sync sends as the events stream.
extension AlertStore: SyncEventSource {
    public func syncEvents(afterSequence: Int64, limit: Int) throws -> [WireAlertEvent] {
        // The store's events are the wire's type: sent whole, with nothing to convert.
        try events(afterSequence: afterSequence, limit: min(limit, AlertStore.maxLimit))
    }

    public func syncEventBacklog(afterSequence: Int64) throws -> Int {
        try eventBacklog(afterSequence: afterSequence)
    }
}
