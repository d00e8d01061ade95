import Foundation
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
        var maxAge: Duration? = .seconds(90 * 86_400)
        var diskBudgetBytes: Int64? = 512 * 1024 * 1024
        var freeSpaceFloorBytes: Int64? = 64 * 1024 * 1024
    }

    struct Sync: Sendable, Equatable {
        var url: String?
        var tokenFile: String = "/etc/edge-agent/token"
        var caFile: String?
        var clientCertificate: String?
        var clientKey: String?
        var interval: Duration = .seconds(10)
        var healthInterval: Duration = .seconds(60)
        var batchRows: Int = 5_000
        var batchBytes: Int = 1_000_000
    }

    static let systemPath = "/etc/edge-agent/agent.yaml"

    static func defaults(hostName: String = ProcessInfo.processInfo.hostName) -> AgentConfig {
        AgentConfig(deviceID: hostName, profilePath: "device-profiles/reef-sim.yaml", dataDirectory: "data",
                    logLevel: "info", source: "built-in defaults")
    }

    /// Resolves the file to read: an explicit path, `EDGE_AGENT_CONFIG`, the system file if it
    /// exists, or none (defaults).
    static func load(path explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                     systemPath: String = AgentConfig.systemPath) throws(ConfigErrors) -> AgentConfig {
        let path = explicit ?? environment["EDGE_AGENT_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) ?? (FileManager.default.fileExists(atPath: systemPath) ? systemPath : nil)
        var config = defaults()
        var errors: [ConfigError] = []
        if let path {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigErrors([ConfigError(file: path, line: nil, key: "", message: "cannot read the file (does it exist, and may this user read it?)")])
            }
            config.source = path
            config.apply(yaml: text, file: path, errors: &errors)
        }
        config.apply(environment: environment, errors: &errors)
        if config.deviceID.isEmpty { config.deviceID = ProcessInfo.processInfo.hostName }
        if !["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(config.logLevel) {
            errors.append(ConfigError(file: config.source, line: nil, key: "log_level",
                                      message: "'\(config.logLevel)' is not a level; use trace, debug, info, notice, warning, error or critical"))
        }
        guard errors.isEmpty else { throw ConfigErrors(errors) }
        return config
    }

    private mutating func apply(yaml text: String, file: String, errors: inout [ConfigError]) {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { return }
            root = node
        } catch let error as YamlError {
            errors.append(ConfigError(file: file, line: Self.line(of: error), key: "", message: "not valid YAML: \(error)"))
            return
        } catch {
            errors.append(ConfigError(file: file, line: nil, key: "", message: "not valid YAML: \(error)"))
            return
        }
        let reader = NodeReader(file: file)
        guard let top = reader.mapping(root, key: "", errors: &errors) else { return }
        for (key, value) in top {
            switch key {
            case "device_id": reader.string(value, key: key, errors: &errors).map { deviceID = $0 }
            case "profile": reader.string(value, key: key, errors: &errors).map { profilePath = $0 }
            case "data_dir": reader.string(value, key: key, errors: &errors).map { dataDirectory = $0 }
            case "log_level": reader.string(value, key: key, errors: &errors).map { logLevel = $0 }
            case "retention":
                for (sub, v) in reader.mapping(value, key: key, errors: &errors) ?? [] {
                    let path = "retention.\(sub)"
                    switch sub {
                    case "max_age": maxAgeOrNil(reader.string(v, key: path, errors: &errors), file: file, node: v, key: path, errors: &errors)
                    case "disk_budget": retention.diskBudgetBytes = reader.bytes(v, key: path, errors: &errors)
                    case "free_space_floor": retention.freeSpaceFloorBytes = reader.bytes(v, key: path, errors: &errors)
                    default: errors.append(reader.unknown(v, key: path, allowed: ["max_age", "disk_budget", "free_space_floor"]))
                    }
                }
            case "sync":
                for (sub, v) in reader.mapping(value, key: key, errors: &errors) ?? [] {
                    let path = "sync.\(sub)"
                    switch sub {
                    case "url": sync.url = reader.string(v, key: path, errors: &errors).flatMap { $0.isEmpty ? nil : $0 }
                    case "token_file": reader.string(v, key: path, errors: &errors).map { sync.tokenFile = $0 }
                    case "ca_file": sync.caFile = reader.string(v, key: path, errors: &errors).flatMap { $0.isEmpty ? nil : $0 }
                    case "client_cert": sync.clientCertificate = reader.string(v, key: path, errors: &errors).flatMap { $0.isEmpty ? nil : $0 }
                    case "client_key": sync.clientKey = reader.string(v, key: path, errors: &errors).flatMap { $0.isEmpty ? nil : $0 }
                    case "interval": reader.duration(v, key: path, errors: &errors).map { sync.interval = $0 }
                    case "health_interval": reader.duration(v, key: path, errors: &errors).map { sync.healthInterval = $0 }
                    case "batch_rows": reader.int(v, key: path, errors: &errors).map { sync.batchRows = $0 }
                    case "batch_bytes": reader.bytes(v, key: path, errors: &errors).map { sync.batchBytes = Int($0) }
                    default:
                        errors.append(reader.unknown(v, key: path, allowed: ["url", "token_file", "ca_file", "client_cert", "client_key",
                                                                             "interval", "health_interval", "batch_rows", "batch_bytes"]))
                    }
                }
            default:
                errors.append(reader.unknown(value, key: key, allowed: ["device_id", "profile", "data_dir", "log_level", "retention", "sync"]))
            }
        }
    }

    private mutating func maxAgeOrNil(_ text: String?, file: String, node: Node, key: String, errors: inout [ConfigError]) {
        guard let text else { return }
        if text == "none" || text.isEmpty { retention.maxAge = nil; return }
        if let duration = DurationText.parse(text) { retention.maxAge = duration; return }
        errors.append(ConfigError(file: file, line: node.mark.map { $0.line }, key: key,
                                  message: "'\(text)' is not a duration; write e.g. 30d, 12h, 90m or none"))
    }

    /// Environment wins over the file so a unit's `Environment=` or a test can change one key.
    private mutating func apply(environment env: [String: String], errors: inout [ConfigError]) {
        if let v = env["EDGE_AGENT_DEVICE_ID"] { deviceID = v }
        if let v = env["EDGE_AGENT_PROFILE"] { profilePath = v }
        if let v = env["EDGE_AGENT_DATA_DIR"] { dataDirectory = v }
        if let v = env["EDGE_AGENT_LOG_LEVEL"] { logLevel = v }
        if let v = env["EDGE_AGENT_SYNC_URL"] { sync.url = v.isEmpty ? nil : v }
        if let v = env["EDGE_AGENT_SYNC_TOKEN_FILE"] { sync.tokenFile = v }
        if let v = env["EDGE_AGENT_SYNC_CA_FILE"] { sync.caFile = v.isEmpty ? nil : v }
        if let v = env["EDGE_AGENT_SYNC_INTERVAL"] {
            if let d = DurationText.parse(v) { sync.interval = d } else {
                errors.append(ConfigError(file: "environment", line: nil, key: "EDGE_AGENT_SYNC_INTERVAL", message: "'\(v)' is not a duration"))
            }
        }
        if let v = env["EDGE_AGENT_SYNC_HEALTH_INTERVAL"] {
            if let d = DurationText.parse(v) { sync.healthInterval = d } else {
                errors.append(ConfigError(file: "environment", line: nil, key: "EDGE_AGENT_SYNC_HEALTH_INTERVAL", message: "'\(v)' is not a duration"))
            }
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }
}

struct ConfigError: Error, Equatable, CustomStringConvertible {
    var file: String
    var line: Int?
    var key: String
    var message: String
    var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(place): \(message)" : "\(place): \(key): \(message)"
    }
}

struct ConfigErrors: Error, CustomStringConvertible {
    var errors: [ConfigError]
    init(_ errors: [ConfigError]) { self.errors = errors }
    var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Typed reads from a YAML node that record an error (file, line, key, what is allowed)
/// instead of stopping at the first one.
private struct NodeReader {
    let file: String

    func error(_ node: Node, key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, line: node.mark.map { $0.line }, key: key, message: message)
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

    func int(_ node: Node, key: String, errors: inout [ConfigError]) -> Int? {
        guard let text = string(node, key: key, errors: &errors) else { return nil }
        guard let value = Int(text), value > 0 else {
            errors.append(error(node, key: key, "'\(text)' is not a positive whole number"))
            return nil
        }
        return value
    }

    func duration(_ node: Node, key: String, errors: inout [ConfigError]) -> Duration? {
        guard let text = string(node, key: key, errors: &errors) else { return nil }
        guard let value = DurationText.parse(text) else {
            errors.append(error(node, key: key, "'\(text)' is not a duration; write e.g. 500ms, 10s, 5m, 2h or 7d"))
            return nil
        }
        return value
    }

    func bytes(_ node: Node, key: String, errors: inout [ConfigError]) -> Int64? {
        guard let text = string(node, key: key, errors: &errors) else { return nil }
        guard let value = ByteSizeText.parse(text) else {
            errors.append(error(node, key: key, "'\(text)' is not a size; write e.g. 512MB, 2GB or 800kB"))
            return nil
        }
        return value
    }
}

enum ByteSizeText {
    /// "512MB", "2GiB", "800kB", "1000000": decimal and binary units, as people write them.
    static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        guard let number = Double(digits), number >= 0 else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let scale: Double? = switch unit {
        case "", "b": 1
        case "kb", "k": 1_000
        case "kib": 1_024
        case "mb", "m": 1_000_000
        case "mib": 1_048_576
        case "gb", "g": 1_000_000_000
        case "gib": 1_073_741_824
        default: nil
        }
        return scale.map { Int64(number * $0) }
    }
}
