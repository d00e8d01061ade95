import AlertEngine
import EdgeCore
import Logging
import Notify
import NotifyDelivery
import Readings

/// The notification stages from the agent config: one per target in agent.yaml's `notify:`
/// (a broken target is already left out by the config, with its problem), each with its own
/// cursor, pacing and dead letters over the shared database, so a dead mail server never
/// holds back the phone.
///
/// Throws only when the ledger's tables cannot be created (the daemon then runs without
/// notifications and reports why); a failing target or service is the stage's own business.
enum NotifySetup {
    /// - Parameter targets: agent.yaml's, resolved against the running profile (`targets(for:)`).
    static func stages(config: AgentConfig, targets: [NotifyTarget], database: LocalDatabase, alerts: AlertStore,
                       transport: any NotifyTransport, clock: any DeviceClock, logger: Logger) throws -> [NotifyStage] {
        guard !targets.isEmpty else { return [] }
        let ledger = try NotifyLedger(writer: database.writer)
        let feed = AlertEventFeed(store: alerts)
        let settings = NotifyStage.Settings(device: config.deviceID, click: config.notify.click)
        return targets.map { target in
            NotifyStage(target: target, settings: settings, ledger: ledger, events: feed, firing: feed, transport: transport,
                        clock: clock, logger: logger)
        }
    }
}

extension NotifySetup {
    /// libcurl: the one transport the daemon and `edge-agent notify test` send through.
    static func transport() -> any NotifyTransport { CurlNotifyTransport() }
}
