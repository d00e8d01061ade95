import AlertEngine
import EdgeCore
import Logging
import Readings
import Sync

/// Sync from the agent config: nil when no server URL is set (the device runs offline and
/// keeps everything, within its retention budget).
///
/// Throws, with a reason that says what to fix, when sync is configured but cannot start: a
/// problem in agent.yaml's `sync:` section (`config.sync.problems`, which never fail the
/// config's load), a token file with the wrong mode, a URL the transport refuses (plain
/// `http://`), a setting the engine refuses. The daemon then runs without sync and reports
/// "sync disabled: <reason>"; polling, storage and alerting go on.
enum SyncSetup {
    static func engine(config: AgentConfig, database: LocalDatabase, readings: ReadingQueries, alerts: AlertStore,
                       health: any HealthFeed, clock: any DeviceClock, logger: Logger) throws -> SyncEngine? {
        if !config.sync.problems.isEmpty { throw CLIError(config.sync.problems.joined(separator: "; ")) }
        guard let url = config.sync.url else { return nil }
        let token = try BearerToken.load(path: config.sync.tokenFile)
        let transport = try CurlTransport(configuration: .init(
            serverURL: url, token: token, caFile: config.sync.caFile,
            clientCertificate: config.sync.clientCertificate, clientKey: config.sync.clientKey,
            allowInsecureHTTP: config.sync.allowInsecureHTTP))
        let configuration = SyncConfiguration(deviceID: config.deviceID, maxBatchRows: config.sync.batchRows,
                                              maxBatchBytes: config.sync.batchBytes, idleInterval: config.sync.interval,
                                              healthInterval: config.sync.healthInterval)
        return try SyncEngine(configuration: configuration, database: database, readings: readings,
                              events: AlertEventFeed(store: alerts), transport: transport, health: health, clock: clock, logger: logger)
    }
}
