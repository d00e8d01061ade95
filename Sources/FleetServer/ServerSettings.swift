import Foundation
import PostgresNIO

/// `fleet-server serve`'s settings from its JSON file and its flags, and the check both
/// `serve` and `check-config` run before anything starts (the seeds' configuration check):
/// every problem at once, each naming the file and the key, so an operator fixes a file in
/// one pass instead of one restart per mistake.
///
/// The check covers what the server would otherwise only find at run time: unknown keys (a
/// misspelt key would silently keep its default), values out of range, TLS and credential
/// files that cannot be read, an admin token file others could read, receivers and routes
/// that do not fit together.
public struct ServerSettings: Sendable {
    /// The file's keys; a flag wins over the file.
    public struct File: Decodable, Sendable {
        var host: String?
        var port: Int?
        var tlsCert: String?
        var tlsKey: String?
        var clientCA: String?
        var plainHTTP: Bool?
        var postgresURL: String?
        var maxBodyBytes: Int?
        var maxBatchRows: Int?
        var maxConcurrentBatches: Int?
        var maxConcurrentBatchesPerDevice: Int?
        var retryAfterSeconds: Int?
        var databaseTimeoutSeconds: Int?
        var storeTimeoutSeconds: Int?
        var bodyTimeoutSeconds: Int?
        var idleTimeoutSeconds: Int?
        var handshakeTimeoutSeconds: Int?
        var maxConnections: Int?
        var maxConnectionsPerAddress: Int?
        var healthReportsKept: Int?
        var adminTokenFile: String?
        /// `/metrics`' bearer token (docs/DASHBOARD.md); without it /metrics is off.
        var metricsTokenFile: String?
        /// `name token` lines for operators who may sign in to the dashboard.
        var operatorTokensFile: String?
        /// The job workers' settings (docs/NOTIFICATIONS.md, "The queue and the workers").
        var worker: WorkerSettings.File?
        /// Receivers, routes and defaults (docs/NOTIFICATIONS.md, "Routes and receivers").
        var notifications: NotificationSettings?

        /// Every key the file may have, for the unknown-key check: the properties themselves.
        static let keys = Set(Mirror(reflecting: File()).children.compactMap(\.label))
    }

    /// What the command line says; each wins over the file.
    public struct Flags: Sendable {
        public var host: String?
        public var port: Int?
        public var tlsCert: String?
        public var tlsKey: String?
        public var clientCA: String?
        public var plainHTTP = false
        public var postgresURL: String?
        public var maxBodyBytes: Int?
        public var maxConcurrentBatches: Int?
        public var retryAfterSeconds: Int?
        public var databaseTimeoutSeconds: Int?
        public var adminTokenFile: String?
        public var metricsTokenFile: String?
        public var operatorTokensFile: String?
        public init() {}
    }

    /// The configuration to serve with; nil when a problem prevents building one.
    public var configuration: FleetServerConfiguration?
    /// The PostgreSQL URL as given (it may hold a password: never print it unredacted).
    public var postgresURL: String?
    /// Every problem, `file: key: what is wrong and what to do`.
    public var problems: [String]

    /// The largest settings file read: a configuration is kilobytes.
    static let maxFileBytes = 1 << 20

    /// Reads `path` (if any) and `flags` into a configuration, collecting every problem.
    /// `environment` supplies `FLEET_POSTGRES_URL` when neither the flag nor the file does.
    public static func resolve(file path: String?, flags: Flags,
                               environment: [String: String] = ProcessInfo.processInfo.environment) -> ServerSettings {
        var problems: [String] = []
        var file = File()
        let place = path ?? "command line"
        if let path {
            switch read(path) {
            case .success(let decoded): file = decoded.file; problems += decoded.problems
            case .failure(let problem):
                // Nothing else in the file can be judged; the flags alone would only add
                // consequences of this one problem.
                return ServerSettings(configuration: nil, postgresURL: nil, problems: [problem.description])
            }
        }

        var tls: FleetServerConfiguration.TLSFiles?
        if !(flags.plainHTTP || file.plainHTTP == true) {
            if let cert = flags.tlsCert ?? file.tlsCert, let key = flags.tlsKey ?? file.tlsKey {
                tls = .init(certificateChain: cert, privateKey: key, clientCA: flags.clientCA ?? file.clientCA)
                for (key, value) in [("tlsCert", cert), ("tlsKey", key), ("clientCA", flags.clientCA ?? file.clientCA)] {
                    if let value, !FileManager.default.isReadableFile(atPath: value) {
                        problems.append("\(place): \(key): cannot read \(value); give the PEM file's path")
                    }
                }
            } else {
                problems.append("\(place): tlsCert, tlsKey: give both (--tls-cert and --tls-key), or plainHTTP behind a TLS-terminating proxy")
            }
        }

        let url = flags.postgresURL ?? file.postgresURL ?? environment["FLEET_POSTGRES_URL"]
        var database: PostgresClient.Configuration?
        if let url {
            do { database = try .parse(url: url) } catch { problems.append("\(place): postgresURL: \(error)") }
        } else {
            problems.append("\(place): postgresURL: say where PostgreSQL is (--postgres-url, the file's postgresURL, or FLEET_POSTGRES_URL)")
        }

        var adminTokenHash: TokenHash?
        if let tokenPath = flags.adminTokenFile ?? file.adminTokenFile {
            do { adminTokenHash = TokenHash(of: try AdminToken.load(path: tokenPath)) } catch {
                problems.append("\(place): adminTokenFile: \(error)")
            }
        }

        var dashboard = DashboardSettings()
        if let path = flags.metricsTokenFile ?? file.metricsTokenFile {
            do { dashboard.metricsTokenHash = try MetricsToken.load(path: path) } catch {
                problems.append("\(place): metricsTokenFile: \(error)")
            }
        }
        if let path = flags.operatorTokensFile ?? file.operatorTokensFile {
            do { dashboard.operators = try OperatorTokens.load(path: path) } catch {
                problems.append("\(place): operatorTokensFile: \(error)")
            }
        }

        guard let database else { return ServerSettings(configuration: nil, postgresURL: url, problems: problems) }
        var configuration = FleetServerConfiguration(host: flags.host ?? file.host ?? "0.0.0.0", port: flags.port ?? file.port ?? 8443,
                                                     tls: tls, database: database, adminTokenHash: adminTokenHash)
        if let value = flags.maxBodyBytes ?? file.maxBodyBytes { configuration.maxBodyBytes = value }
        if let value = file.maxBatchRows { configuration.maxBatchRows = value }
        if let value = flags.maxConcurrentBatches ?? file.maxConcurrentBatches { configuration.maxConcurrentBatches = value }
        if let value = file.maxConcurrentBatchesPerDevice { configuration.maxConcurrentBatchesPerDevice = value }
        if let value = flags.retryAfterSeconds ?? file.retryAfterSeconds { configuration.retryAfterSeconds = value }
        let seconds: [(Int?, WritableKeyPath<FleetServerConfiguration, Duration>)] = [
            (flags.databaseTimeoutSeconds ?? file.databaseTimeoutSeconds, \.databaseTimeout),
            (file.storeTimeoutSeconds, \.storeTimeout), (file.bodyTimeoutSeconds, \.bodyTimeout),
            (file.idleTimeoutSeconds, \.connections.idleTimeout), (file.handshakeTimeoutSeconds, \.connections.handshakeTimeout),
        ]
        for (value, keyPath) in seconds {
            // Clamped before Duration arithmetic: the range check below names the key.
            if let value { configuration[keyPath: keyPath] = .seconds(max(-1, min(value, 1 << 40))) }
        }
        if let value = file.maxConnections { configuration.connections.maxConnections = value }
        if let value = file.maxConnectionsPerAddress { configuration.connections.maxConnectionsPerAddress = value }
        if let value = file.healthReportsKept { configuration.healthReportsKept = value }
        if let worker = file.worker { configuration.worker.apply(worker) }
        if let notifications = file.notifications { configuration.notifications = notifications }
        configuration.dashboard = dashboard
        problems += configuration.validationErrors().map { "\(place): \($0)" }
        return ServerSettings(configuration: configuration, postgresURL: url, problems: problems)
    }

    /// The file decoded, with its unknown keys as problems; a file that is not JSON, or a
    /// value of the wrong type, is one problem naming the key path.
    static func read(_ path: String) -> Result<(file: File, problems: [String]), ConfigurationError> {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return .failure(ConfigurationError("\(path): cannot read: \(String(cString: strerror(errno)))"))
        }
        guard info.st_size <= maxFileBytes, let data = FileManager.default.contents(atPath: path), data.count <= maxFileBytes else {
            return .failure(ConfigurationError("\(path): larger than \(maxFileBytes) bytes or unreadable; a settings file is a few kilobytes"))
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch let error as DecodingError {
            return .failure(ConfigurationError("\(path): \(describe(error))"))
        } catch {
            return .failure(ConfigurationError("\(path): \(error)"))
        }
        var problems: [String] = []
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            problems += unknownKeys(object, allowed: File.keys, path: "", file: path)
            if let worker = object["worker"] as? [String: Any] {
                problems += unknownKeys(worker, allowed: keys(of: WorkerSettings.File()), path: "worker.", file: path)
                if let health = worker["health"] as? [String: Any] {
                    problems += unknownKeys(health, allowed: keys(of: WorkerSettings.File.Health()), path: "worker.health.", file: path)
                }
            }
        }
        return .success((file, problems))
    }

    private static func keys(of value: Any) -> Set<String> {
        Set(Mirror(reflecting: value).children.compactMap(\.label))
    }

    private static func unknownKeys(_ object: [String: Any], allowed: Set<String>, path: String, file: String) -> [String] {
        object.keys.sorted().filter { !allowed.contains($0) }.map { key in
            let near = allowed.min { distance($0, key) < distance($1, key) }
            let hint = near.map { distance($0, key) <= 3 ? "; did you mean \(path)\($0)?" : "" } ?? ""
            return "\(file): \(path)\(key): not a setting\(hint)"
        }
    }

    /// Edit distance, for "did you mean".
    private static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }

    /// `worker.leaseSeconds: expected a number` rather than Foundation's debug text.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.hasPrefix(".") ? String(keys.dropFirst()) : keys
        }
        switch error {
        case .typeMismatch(let type, let context):
            let expected = type == String.self ? "a string" : type == Bool.self ? "true or false"
                : [Int.self, Double.self].contains(where: { $0 == type }) ? "a number" : "\(type)"
            return "\(path(context)): expected \(expected)"
        case .valueNotFound(_, let context):
            return "\(path(context)): missing a value"
        case .keyNotFound(let key, let context):
            let at = path(context)
            return "\(at.isEmpty ? "" : at + ".")\(key.stringValue): required"
        case .dataCorrupted(let context):
            let at = path(context)
            let reason = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? context.debugDescription
            return at.isEmpty ? "not JSON: \(reason)" : "\(at): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
