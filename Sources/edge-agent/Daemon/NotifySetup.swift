import AlertEngine
import EdgeCore
import Logging
import Notify
import Readings

/// The notification stages from the agent config: one per target in agent.yaml's `notify:`
/// (a broken target is already left out by the config, with its problem), each with its own
/// cursor, pacing and dead letters over the shared database, so a dead mail server never
/// holds back the phone.
///
/// Throws only when the ledger's tables cannot be created (the daemon then runs without
/// notifications and reports why); a failing target or service is the stage's own business.
enum NotifySetup {
    static func stages(config: AgentConfig, database: LocalDatabase, alerts: AlertStore, transport: any NotifyTransport,
                       clock: any DeviceClock, logger: Logger) throws -> [NotifyStage] {
        guard !config.notify.targets.isEmpty else { return [] }
        let ledger = try NotifyLedger(writer: database.writer)
        let feed = AlertEventFeed(store: alerts)
        let settings = NotifyStage.Settings(device: config.deviceID, click: config.notify.click)
        return config.notify.targets.map { target in
            NotifyStage(target: target, settings: settings, ledger: ledger, events: feed, firing: feed, transport: transport,
                        clock: clock, logger: logger)
        }
    }
}

extension NotifySetup {
    // TODO(merge): the TRANSPORT helper's CurlNotifyTransport replaces this placeholder.
    static func transport() -> any NotifyTransport { Unbuilt() }

    private struct Unbuilt: NotifyTransport {
        func send(_ payload: NotifyPayload, to target: NotifyTarget, credential: String?) async -> NotifyAnswer {
            NotifyAnswer(outcome: .networkError("this build has no notification transport"), text: "")
        }
    }
}
