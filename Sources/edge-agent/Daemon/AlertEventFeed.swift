import AlertEngine
import Notify
import NotifyDelivery
import Sync
import Wire

/// The alert store's log as Sync's and Notify's events stream, and its state as Notify's
/// firing rules. It lives in the agent, which owns both
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

    func notifyNewestSequence() throws -> Int64 {
        try store.newestEventSequence()
    }
}

extension AlertEventFeed: FiringRuleSource {
    /// Firing and flapping rules from the engine's state table; a rule is silenced while its
    /// silence or the device's maintenance lasts.
    func firingRules(nowMillis: Int64) throws -> [FiringRule] {
        let maintenance = try store.maintenanceUntil().map { $0 > nowMillis } ?? false
        return try store.active().filter { $0.state != .pending }.map { alert in
            FiringRule(ruleID: alert.ruleID, sensorID: alert.sensorID, severity: alert.severity,
                       firingSinceMillis: alert.sinceMillis, acknowledged: alert.acknowledged,
                       silenced: maintenance || (alert.silencedUntilMillis.map { $0 > nowMillis } ?? false), message: alert.message)
        }
    }
}
