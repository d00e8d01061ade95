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
    /// exists, or none (defaults). Throws for errors outside `sync:`; those in it land in
    /// `sync.problems` so that a bad sync setting never stops polling and alerting.
    static func load(path explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                     systemPath: String = AgentConfig.systemPath) throws(ConfigErrors) -> AgentConfig {
        let (config, errors) = resolve(path: explicit, environment: environment, systemPath: systemPath)
        guard errors.isEmpty else { throw ConfigErrors(errors) }
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
            switch ConfigText.read(path: path) {
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
        config.sync.problems = syncProblems.map(\.description)
        return (config, errors)
    }

    private mutating func apply(yaml text: String, file: String, errors: inout [ConfigError],
                                syncProblems: inout [ConfigError], urlPlace: inout ConfigError) {
        if let (line, message) = YAMLGuard.nestingProblem(text) {
            errors.append(ConfigError(file: file, line: line, key: "", message: message))
            return
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { return }
            root = node
        } catch let error as YamlError {
            errors.append(ConfigError(yaml: error, file: file))
            return
        } catch {
            errors.append(ConfigError(file: file, line: nil, key: "", message: "not valid YAML: \(error)"))
            return
        }
        let reader = NodeReader(file: file)
        guard let top = reader.mapping(root, key: "", errors: &errors) else { return }
        for (key, value) in top {
            switch key {
            case "device_id":
                if let text = reader.string(value, key: key, errors: &syncProblems) {
                    if let problem = Self.deviceIDProblem(text) { syncProblems.append(reader.error(value, key: key, problem)) } else { deviceID = text }
                }
            case "profile": reader.string(value, key: key, errors: &errors).map { profilePath = $0 }
            case "data_dir": reader.string(value, key: key, errors: &errors).map { dataDirectory = $0 }
            case "log_level":
                if let text = reader.string(value, key: key, errors: &errors) {
                    if let problem = Self.logLevelProblem(text) { errors.append(reader.error(value, key: key, problem)) } else { logLevel = text }
                }
            case "retention":
                for (sub, v) in reader.mapping(value, key: key, errors: &errors) ?? [] {
                    let path = "retention.\(sub)"
                    switch sub {
                    case "max_age":
                        if let text = reader.string(v, key: path, errors: &errors) {
                            if text == "none" || text.isEmpty { retention.maxAge = nil } else {
                                reader.duration(v, key: path, in: Retention.maxAgeRange, errors: &errors).map { retention.maxAge = $0 }
                            }
                        }
                    case "disk_budget":
                        reader.bytes(v, key: path, in: Retention.budgetRange, errors: &errors).map { retention.diskBudgetBytes = $0 }
                    case "free_space_floor":
                        reader.bytes(v, key: path, in: Retention.floorRange, errors: &errors).map { retention.freeSpaceFloorBytes = $0 }
                    default: errors.append(reader.unknown(v, key: path, allowed: ["max_age", "disk_budget", "free_space_floor"]))
                    }
                }
            case "sync":
                applySync(value, reader: reader, problems: &syncProblems, urlPlace: &urlPlace)
            default:
                errors.append(reader.unknown(value, key: key, allowed: ["device_id", "profile", "data_dir", "log_level", "retention", "sync"]))
            }
        }
    }

    static func logLevelProblem(_ level: String) -> String? {
        logLevels.contains(level) ? nil : "'\(level)' is not a level; use trace, debug, info, notice, warning, error or critical"
    }

    /// The fleet server keys the device by its id (empty means the host name).
    static func deviceIDProblem(_ id: String) -> String? {
        id.utf8.count <= 128 && !id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) ? nil
            : "must be at most 128 bytes without control characters (the fleet server keys the device by it)"
    }

    private mutating func applySync(_ value: Node, reader: NodeReader, problems: inout [ConfigError], urlPlace: inout ConfigError) {
        for (sub, v) in reader.mapping(value, key: "sync", errors: &problems) ?? [] {
            let path = "sync.\(sub)"
            switch sub {
            case "url":
                sync.url = reader.string(v, key: path, errors: &problems).flatMap { $0.isEmpty ? nil : $0 }
                urlPlace = reader.error(v, key: path, "")
            case "token_file": reader.string(v, key: path, errors: &problems).map { sync.tokenFile = $0 }
            case "ca_file": sync.caFile = reader.string(v, key: path, errors: &problems).flatMap { $0.isEmpty ? nil : $0 }
            case "client_cert": sync.clientCertificate = reader.string(v, key: path, errors: &problems).flatMap { $0.isEmpty ? nil : $0 }
            case "client_key": sync.clientKey = reader.string(v, key: path, errors: &problems).flatMap { $0.isEmpty ? nil : $0 }
            case "interval": reader.duration(v, key: path, in: Sync.intervalRange, errors: &problems).map { sync.interval = $0 }
            case "health_interval":
                reader.duration(v, key: path, in: Sync.healthIntervalRange, errors: &problems).map { sync.healthInterval = $0 }
            case "batch_rows": reader.int(v, key: path, in: Sync.batchRowsRange, errors: &problems).map { sync.batchRows = $0 }
            case "batch_bytes": reader.bytes(v, key: path, in: Sync.batchBytesRange, errors: &problems).map { sync.batchBytes = Int($0) }
            case "allow_insecure_http": reader.bool(v, key: path, errors: &problems).map { sync.allowInsecureHTTP = $0 }
            default:
                problems.append(reader.unknown(v, key: path, allowed: ["url", "token_file", "ca_file", "client_cert", "client_key", "interval",
                                                                      "health_interval", "batch_rows", "batch_bytes", "allow_insecure_http"]))
            }
        }
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

struct ConfigError: Error, Equatable, CustomStringConvertible {
    var file: String
    var line: Int?
    var column: Int? = nil
    var key: String
    var message: String
    /// Credentials of any URL quoted in the message are masked, whichever key it was put under.
    var description: String {
        let place = [file, line.map(String.init), line == nil ? nil : column.map(String.init)].compactMap { $0 }.joined(separator: ":")
        let text = SyncURLCheck.maskingCredentials(in: message)
        return key.isEmpty ? "\(place): \(text)" : "\(place): \(key): \(text)"
    }

    init(file: String, line: Int?, column: Int? = nil, key: String, message: String) {
        (self.file, self.line, self.column, self.key, self.message) = (file, line, column, key, message)
    }

    init(yaml error: YamlError, file: String) {
        let problem = YAMLProblem(error)
        self.init(file: file, line: problem.line, column: problem.column, key: "", message: problem.message)
    }
}

struct ConfigErrors: Error, CustomStringConvertible {
    var errors: [ConfigError]
    init(_ errors: [ConfigError]) { self.errors = errors }
    var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Reads a config file as UTF-8 text, saying which of "missing", "unreadable" or "not
/// UTF-8" (with the line and byte offset of the first bad byte) stands in the way.
enum ConfigText {
    /// agent.yaml is a few hundred bytes; a file this large is not one.
    static let maxBytes = 1 << 20

    static func read(path: String) -> Result<String, ConfigError> {
        let data: Data
        switch BoundedFile.read(path: path, maxBytes: maxBytes) {
        case .success(let read): data = read
        case .failure(.unreadable):
            return .failure(ConfigError(file: path, line: nil, key: "", message: "cannot read the file (does it exist, and may this user read it?)"))
        case .failure(.notARegularFile):
            return .failure(ConfigError(file: path, line: nil, key: "", message: "not a regular file"))
        case .failure(.tooLarge(let bytes)):
            return .failure(ConfigError(file: path, line: nil, key: "", message: "the file is \(bytes) bytes; an agent config is at most \(maxBytes)"))
        }
        if let text = String(validating: data, as: UTF8.self) { return .success(text) }
        let (line, offset) = UTF8Check.firstInvalid(data)
        return .failure(ConfigError(file: path, line: line, key: "",
                                    message: "the file is not UTF-8 text (invalid byte at offset \(offset)); save it as UTF-8"))
    }
}

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
}

/// Typed reads from a YAML node that record an error (file, line, key, what is allowed)
/// instead of stopping at the first one.
private struct NodeReader {
    let file: String

    func error(_ node: Node, key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, line: node.mark.map { $0.line }, column: node.mark.map { $0.column }, key: key, message: message)
    }

    func unknown(_ node: Node, key: String, allowed: [String]) -> ConfigError {
        error(node, key: key, "unknown key; allowed here: \(allowed.joined(separator: ", "))")
    }

    func mapping(_ node: Node, key: String, errors: inout [ConfigError]) -> [(String, Node)]? {
        guard case .mapping(let mapping) = node else {
            errors.append(error(node, key: key, "expected a mapping of keys to values"))
            return nil
        }
        return mapping.compactMap { pair in pair.key.string.map { ($0, pair.value) } }
    }

    func string(_ node: Node, key: String, errors: inout [ConfigError]) -> String? {
        guard case .scalar(let scalar) = node else {
            errors.append(error(node, key: key, "expected a single value"))
            return nil
        }
        return scalar.string
    }

    func bool(_ node: Node, key: String, errors: inout [ConfigError]) -> Bool? {
        guard let text = string(node, key: key, errors: &errors) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            errors.append(error(node, key: key, "'\(text)' is not true/false"))
            return nil
        }
    }

    func int(_ node: Node, key: String, in range: ClosedRange<Int>, errors: inout [ConfigError]) -> Int? {
        parse(node, key: key, errors: &errors) { text throws(QuantityError) in try NumberText.integer(text, in: range) }
    }

    func duration(_ node: Node, key: String, in range: ClosedRange<Duration>, errors: inout [ConfigError]) -> Duration? {
        parse(node, key: key, errors: &errors) { text throws(QuantityError) in try DurationText.parse(text, in: range) }
    }

    func bytes(_ node: Node, key: String, in range: ClosedRange<Int64>, errors: inout [ConfigError]) -> Int64? {
        parse(node, key: key, errors: &errors) { text throws(QuantityError) in try ByteSizeText.parse(text, in: range) }
    }

    private func parse<T>(_ node: Node, key: String, errors: inout [ConfigError],
                          _ body: (String) throws(QuantityError) -> T) -> T? {
        guard let text = string(node, key: key, errors: &errors) else { return nil }
        do { return try body(text) } catch {
            errors.append(self.error(node, key: key, error.description))
            return nil
        }
    }
}
