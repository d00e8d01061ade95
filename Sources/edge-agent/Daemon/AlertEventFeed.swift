import AlertEngine
import Notify
import Sync
import Wire

/// The alert store's log as Sync's and Notify's events stream. It lives in the agent, which owns both
/// stages, so neither Sync nor Notify depends on AlertEngine.
struct AlertEventFeed: SyncEventSource {
    let store: AlertStore

    func syncEvents(afterSequence: Int64, limit: Int) throws -> [WireAlertEvent] {
        // The store's events are the wire's type: sent whole, with nothing to convert.
        try store.events(afterSequence: afterSequence, limit: min(limit, AlertStore.maxLimit))
    }

    func syncEventBacklog(afterSequence: Int64) throws -> Int {
        try store.eventBacklog(afterSequence: afterSequence)
    }
}

extension AlertEventFeed: NotifyEventSource {
    func notifyEvents(afterSequence: Int64, limit: Int) throws -> [WireAlertEvent] {
        try store.events(afterSequence: afterSequence, limit: min(limit, AlertStore.maxLimit))
    }

    func notifyEventBacklog(afterSequence: Int64) throws -> Int {
        try store.eventBacklog(afterSequence: afterSequence)
    }
}
