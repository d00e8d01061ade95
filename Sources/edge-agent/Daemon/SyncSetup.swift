import EdgeCore
import Logging
import Readings
import Sync

/// Sync from the agent config: nil when no server URL is set (the device runs offline and
/// keeps everything, within its retention budget).
enum SyncSetup {
    static func engine(config: AgentConfig, stores: Stores, health: any HealthSource, clock: any DeviceClock,
                       logger: Logger) throws -> SyncEngine? {
        guard let url = config.sync.url else { return nil }
        let token = try BearerToken.load(path: config.sync.tokenFile)
        let transport = try CurlTransport(configuration: .init(
            serverURL: url, token: token, caFile: config.sync.caFile,
            clientCertificate: config.sync.clientCertificate, clientKey: config.sync.clientKey))
        let configuration = SyncConfiguration(deviceID: config.deviceID, maxBatchRows: config.sync.batchRows,
                                              maxBatchBytes: config.sync.batchBytes, idleInterval: config.sync.interval,
                                              healthInterval: config.sync.healthInterval)
        if let problem = configuration.validationError() { throw CLIError(problem) }
        return try SyncEngine(configuration: configuration, database: stores.database, readings: stores.readings,
                              events: stores.alerts, transport: transport, health: health, clock: clock, logger: logger)
    }
}
