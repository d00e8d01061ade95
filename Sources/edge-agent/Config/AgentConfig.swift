import EdgeCore
import Foundation
import Profiles
import Readings
import Sync
import Wire
import Yams

/// The agent's own settings (where things are, where to sync), as opposed to the device
/// profile (what is wired to the board). Read from `/etc/edge-agent/agent.yaml`, then
/// overridden by `EDGE_AGENT_*` environment variables; with neither, the defaults run the
/// simulated reef from a source checkout into `./data`.
struct AgentConfig: Sendable, Equatable {
    var deviceID: String
    var profilePath: String
    var dataDirectory: String
    var logLevel: String
    var retention = Retention()
    var sync = Sync()
    var notify = Notify()
    /// Where the Prometheus textfile goes (`metrics.textfile`); nil writes none.
    var metricsTextfile: String?
    /// Where the values came from, for `check-config` and error messages.
    var source: String

    struct Retention: Sendable, Equatable {
        static let maxAgeRange = Duration.seconds(3_600) ... DurationText.maximum
        static let budgetRange: ClosedRange<Int64> = 1_000_000 ... 1_000_000_000_000
        static let floorRange: ClosedRange<Int64> = 0 ... 1_000_000_000_000

        var maxAge: Duration? = .seconds(90 * 86_400)
        var diskBudgetBytes: Int64? = 512 * 1024 * 1024
        var freeSpaceFloorBytes: Int64? = 64 * 1024 * 1024
    }

    struct Sync: Sendable, Equatable {
        static let intervalRange = Duration.seconds(1) ... Duration.seconds(86_400)
        static let healthIntervalRange = Duration.seconds(10) ... Duration.seconds(86_400)
        static let batchRowsRange = 1 ... ReadingQueries.maxLimit
        static let batchBytesRange: ClosedRange<Int64> = 1_024 ... Int64(WireProtocol.defaultMaxBodyBytes)

        var url: String?
        var tokenFile: String = "/etc/edge-agent/token"
        var caFile: String?
        var clientCertificate: String?
        var clientKey: String?
        var interval: Duration = .seconds(10)
        var healthInterval: Duration = .seconds(60)
        var batchRows: Int = 5_000
        var batchBytes: Int = 1_000_000
        /// `http://` is for a test server on this machine only: the token would travel in clear.
        var allowInsecureHTTP = false
        /// What is wrong in the `sync:` section (and its `EDGE_AGENT_SYNC_*` variables), each
        /// as `file:line:column: key: message`. Sync alone is disabled while any is here; the
        /// agent still polls, stores and alerts, and `check-config` exits 78.
        var problems: [String] = []

        /// The URL with any `user:password@` replaced by `***@`: the only form logs and status show.
        var redactedURL: String? { url.map(SyncURL.redacted) }
    }

    static let systemPath = "/etc/edge-agent/agent.yaml"
    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    static func defaults(hostName: String = ProcessInfo.processInfo.hostName) -> AgentConfig {
        AgentConfig(deviceID: hostName, profilePath: "device-profiles/reef-sim.yaml", dataDirectory: "data",
                    logLevel: "info", source: "built-in defaults")
    }

    /// Resolves the file to read: an explicit path, `EDGE_AGENT_CONFIG`, the system file if it
    /// exists, or none (defaults). Throws for errors outside `sync:` and `notify:`; those land in
    /// `sync.problems` and `notify.problems` so that a bad setting there never stops polling and alerting.
    static func load(path explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                     systemPath: String = AgentConfig.systemPath) throws(ConfigErrors) -> AgentConfig {
        let (config, errors) = resolve(path: explicit, environment: environment, systemPath: systemPath)
        guard errors.isEmpty else { throw ConfigErrors(errors: errors) }
        return config
    }

    /// What `load` reads, with its errors instead of throwing them: every key that could be
    /// read is applied. For `failsafe`, which must find the profile even in a broken config.
    static func resolve(path explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                        systemPath: String = AgentConfig.systemPath) -> (AgentConfig, [ConfigError]) {
        let path = explicit ?? environment["EDGE_AGENT_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) ?? (FileManager.default.fileExists(atPath: systemPath) ? systemPath : nil)
        var config = defaults()
        var errors: [ConfigError] = []
        var syncProblems: [ConfigError] = []
        var urlPlace = ConfigError(file: path ?? "built-in defaults", line: nil, key: "sync.url", message: "")
        if let path {
            config.source = path
            switch YAMLSource.text(path: path, maxBytes: Self.maxFileBytes, noun: "the file") {
            case .success(let text): config.apply(yaml: text, file: path, errors: &errors, syncProblems: &syncProblems, urlPlace: &urlPlace)
            case .failure(let error): errors.append(error)
            }
        }
        config.apply(environment: environment, errors: &errors, syncProblems: &syncProblems, urlPlace: &urlPlace)
        if config.deviceID.isEmpty { config.deviceID = ProcessInfo.processInfo.hostName }
        if let url = config.sync.url, let problem = SyncURLCheck.problem(url, allowInsecureHTTP: config.sync.allowInsecureHTTP) {
            urlPlace.message = problem
            syncProblems.append(urlPlace)
        }
        config.sync.problems = syncProblems.map { SyncURLCheck.maskingCredentials(in: $0).description }
        return (config, errors.map(SyncURLCheck.maskingCredentials))
    }

    /// agent.yaml is a few hundred bytes; a file this large is not one.
    static let maxFileBytes = 1 << 20

    /// Reads the file through the profiles' reader: the same limits, the same errors, and a
    /// "did you mean" for a mistyped key. Problems in `sync:` (and a bad `device_id`, which
    /// only the fleet server needs) go to `syncProblems`; they disable sync alone.
    private mutating func apply(yaml text: String, file: String, errors: inout [ConfigError],
                                syncProblems: inout [ConfigError], urlPlace: inout ConfigError) {
        let root: Node
        switch YAMLSource.compose(text, file: file) {
        case .success(let node?): root = node
        case .success(nil): return
        case .failure(let error):
            errors.append(error)
            return
        }
        var reader = YAMLReader(file: file)
        var syncReader = YAMLReader(file: file)
        var notifyReader = YAMLReader(file: file)
        // Keys are read in this code's order; errors are reported in the file's.
        defer {
            errors += Self.inFileOrder(reader.errors)
            syncProblems += Self.inFileOrder(syncReader.errors)
            notify.problems = Self.inFileOrder(notifyReader.errors).map { SyncURLCheck.maskingCredentials(in: $0).description }
        }
        guard let top = reader.fields(root, "", allowed: ["device_id", "profile", "data_dir", "log_level", "retention", "sync", "notify", "metrics"]) else { return }
        if let value = top["device_id"], let text = syncReader.scalar(value, "device_id") {
            if let problem = Self.deviceIDProblem(text) { syncReader.fail(value, "device_id", problem) } else { deviceID = text }
        }
        top["profile"].flatMap { reader.scalar($0, "profile") }.map { profilePath = $0 }
        top["data_dir"].flatMap { reader.scalar($0, "data_dir") }.map { dataDirectory = $0 }
        if let value = top["log_level"], let text = reader.scalar(value, "log_level") {
            if let problem = Self.logLevelProblem(text) { reader.fail(value, "log_level", problem) } else { logLevel = text }
        }
        if let value = top["retention"] {
            let f = reader.fields(value, "retention", allowed: ["max_age", "disk_budget", "free_space_floor"]) ?? [:]
            if let v = f["max_age"], let text = reader.scalar(v, "retention.max_age") {
                if text == "none" || text.isEmpty { retention.maxAge = nil } else {
                    reader.duration(v, "retention.max_age", in: Retention.maxAgeRange).map { retention.maxAge = $0 }
                }
            }
            f["disk_budget"].flatMap { reader.bytes($0, "retention.disk_budget", in: Retention.budgetRange) }.map { retention.diskBudgetBytes = $0 }
            f["free_space_floor"].flatMap { reader.bytes($0, "retention.free_space_floor", in: Retention.floorRange) }
                .map { retention.freeSpaceFloorBytes = $0 }
        }
        if let value = top["metrics"], let f = reader.fields(value, "metrics", allowed: ["textfile"]),
           let node = f["textfile"], let path = reader.scalar(node, "metrics.textfile") {
            if let problem = Self.metricsTextfileProblem(path) { reader.fail(node, "metrics.textfile", problem) } else {
                metricsTextfile = path.isEmpty ? nil : path
            }
        }
        if let value = top["sync"] { applySync(value, reader: &syncReader, urlPlace: &urlPlace) }
        // A broken notify section, like a broken sync section, never stops polling and alerting.
        if let value = top["notify"] { notify = notifyReader.notify(value) }
    }

    private static func inFileOrder(_ errors: [ConfigError]) -> [ConfigError] {
        errors.enumerated().sorted { a, b in
            (a.element.line ?? 0, a.element.column ?? 0, a.offset) < (b.element.line ?? 0, b.element.column ?? 0, b.offset)
        }.map(\.element)
    }

    static func logLevelProblem(_ level: String) -> String? {
        logLevels.contains(level) ? nil : "'\(level)' is not a level; use trace, debug, info, notice, warning, error or critical"
    }

    /// node_exporter reads only `*.prom` files; anything else would be written and never scraped.
    static func metricsTextfileProblem(_ path: String) -> String? {
        path.isEmpty || path.hasSuffix(".prom") ? nil
            : "'\(path)' does not end in .prom, so node_exporter's textfile collector would never read it; name it e.g. edge_agent.prom"
    }

    /// The fleet server keys the device by its id (empty means the host name).
    static func deviceIDProblem(_ id: String) -> String? {
        id.utf8.count <= 128 && !id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) ? nil
            : "must be at most 128 bytes without control characters (the fleet server keys the device by it)"
    }

    private mutating func applySync(_ value: Node, reader: inout YAMLReader, urlPlace: inout ConfigError) {
        let allowed = ["url", "token_file", "ca_file", "client_cert", "client_key", "interval",
                       "health_interval", "batch_rows", "batch_bytes", "allow_insecure_http"]
        guard let f = reader.fields(value, "sync", allowed: allowed) else { return }
        /// An empty value turns an optional setting off.
        func optional(_ key: String) -> String?? {
            f[key].flatMap { reader.scalar($0, "sync.\(key)") }.map { $0.isEmpty ? nil : $0 }
        }
        if let node = f["url"] {
            optional("url").map { sync.url = $0 }
            urlPlace = ConfigError(file: reader.file, line: node.mark?.line, column: node.mark?.column, key: "sync.url", message: "")
        }
        f["token_file"].flatMap { reader.scalar($0, "sync.token_file") }.map { sync.tokenFile = $0 }
        optional("ca_file").map { sync.caFile = $0 }
        optional("client_cert").map { sync.clientCertificate = $0 }
        optional("client_key").map { sync.clientKey = $0 }
        f["interval"].flatMap { reader.duration($0, "sync.interval", in: Sync.intervalRange) }.map { sync.interval = $0 }
        f["health_interval"].flatMap { reader.duration($0, "sync.health_interval", in: Sync.healthIntervalRange) }.map { sync.healthInterval = $0 }
        f["batch_rows"].flatMap { reader.int($0, "sync.batch_rows", range: Sync.batchRowsRange) }.map { sync.batchRows = $0 }
        f["batch_bytes"].flatMap { reader.bytes($0, "sync.batch_bytes", in: Sync.batchBytesRange) }.map { sync.batchBytes = Int($0) }
        f["allow_insecure_http"].flatMap { reader.bool($0, "sync.allow_insecure_http") }.map { sync.allowInsecureHTTP = $0 }
    }

    /// Environment wins over the file so a unit's `Environment=` or a test can change one key.
    private mutating func apply(environment env: [String: String], errors: inout [ConfigError],
                                syncProblems: inout [ConfigError], urlPlace: inout ConfigError) {
        if let v = env["EDGE_AGENT_DEVICE_ID"] {
            if let problem = Self.deviceIDProblem(v) {
                syncProblems.append(ConfigError(file: "environment", line: nil, key: "EDGE_AGENT_DEVICE_ID", message: problem))
            } else {
                deviceID = v
            }
        }
        if let v = env["EDGE_AGENT_PROFILE"] { profilePath = v }
        if let v = env["EDGE_AGENT_DATA_DIR"] { dataDirectory = v }
        if let v = env["EDGE_AGENT_METRICS_TEXTFILE"] {
            if let problem = Self.metricsTextfileProblem(v) {
                errors.append(ConfigError(file: "environment", line: nil, key: "EDGE_AGENT_METRICS_TEXTFILE", message: problem))
            } else {
                metricsTextfile = v.isEmpty ? nil : v
            }
        }
        if let v = env["EDGE_AGENT_LOG_LEVEL"] {
            if let problem = Self.logLevelProblem(v) {
                errors.append(ConfigError(file: "environment", line: nil, key: "EDGE_AGENT_LOG_LEVEL", message: problem))
            } else {
                logLevel = v
            }
        }
        if let v = env["EDGE_AGENT_SYNC_URL"] {
            sync.url = v.isEmpty ? nil : v
            urlPlace = ConfigError(file: "environment", line: nil, key: "EDGE_AGENT_SYNC_URL", message: "")
        }
        if let v = env["EDGE_AGENT_SYNC_TOKEN_FILE"] { sync.tokenFile = v }
        if let v = env["EDGE_AGENT_SYNC_CA_FILE"] { sync.caFile = v.isEmpty ? nil : v }
        for (name, range) in [("EDGE_AGENT_SYNC_INTERVAL", Sync.intervalRange), ("EDGE_AGENT_SYNC_HEALTH_INTERVAL", Sync.healthIntervalRange)] {
            guard let text = env[name] else { continue }
            do {
                let value = try DurationText.parse(text, in: range)
                if name == "EDGE_AGENT_SYNC_INTERVAL" { sync.interval = value } else { sync.healthInterval = value }
            } catch {
                syncProblems.append(ConfigError(file: "environment", line: nil, key: name, message: error.description))
            }
        }
    }
}

/// agent.yaml's errors are the profiles' (file:line:column: key: message); an error about
/// the environment names the variable as its key and "environment" as its file.
typealias ConfigError = ProfileError

/// Every error of a config at once.
typealias ConfigErrors = ProfileErrors

/// The sync URL's rules: https, or http only when explicitly allowed and to this machine.
/// What agent.yaml may say as a sync URL; showing one is `Sync.SyncURL`'s.
enum SyncURLCheck {
    static func problem(_ url: String, allowInsecureHTTP: Bool) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty else {
            return "'\(SyncURL.redacted(url))' is not a URL; write e.g. https://fleet.example:8443"
        }
        switch scheme {
        case "https": return nil
        case "http":
            guard allowInsecureHTTP else {
                return "http:// sends the device token in clear; use https:// (http is only for a local test server, with sync.allow_insecure_http: true)"
            }
            guard SyncURL.isLoopback(url) else {
                return "http:// is allowed only to this machine (localhost, 127.0.0.1, ::1); '\(host)' is not"
            }
            return nil
        default:
            return "'\(scheme)' is not a sync scheme; use https://"
        }
    }

    /// Every `scheme://user:secret@` in free text (an error quoting a value) → `scheme://***@`.
    static func maskingCredentials(in text: String) -> String {
        text.replacing(/:\/\/[^\/@\s'"?#]*@/, with: "://***@")
    }

    /// The error with the credentials of any URL its message quotes masked, whichever key it is under.
    static func maskingCredentials(in error: ConfigError) -> ConfigError {
        var masked = error
        masked.message = maskingCredentials(in: error.message)
        return masked
    }
}
