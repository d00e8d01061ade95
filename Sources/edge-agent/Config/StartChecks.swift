#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Notify
import NotifyDelivery
import Sync

/// What the daemon needs at start besides a valid config and profile, checked without
/// starting anything, so `check-config` reports before a start what would otherwise only show
/// as a degraded daemon: a data directory it cannot write, a token file it cannot use, TLS
/// files it cannot read, notify credentials anyone may read.
enum StartChecks {
    static func problems(_ config: AgentConfig) -> [String] {
        var problems: [String] = []
        if let problem = dataDirectoryProblem(config.dataDirectory) {
            problems.append("\(config.source): data_dir: \(problem)")
        }
        problems += notifyProblems(config)
        if let path = config.metricsTextfile {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if access(directory, W_OK | X_OK) != 0 {
                problems.append("\(config.source): metrics.textfile: cannot write in \(directory): \(String(cString: strerror(errno))); create it (node_exporter's textfile directory) and let the agent's user write there")
            }
        }
        guard config.sync.url != nil else { return problems }
        do {
            _ = try BearerToken.load(path: config.sync.tokenFile)
        } catch {
            problems.append("\(config.source): sync.token_file: \(error)")
        }
        for (key, path) in [("sync.ca_file", config.sync.caFile), ("sync.client_cert", config.sync.clientCertificate),
                            ("sync.client_key", config.sync.clientKey)] {
            if let path, access(path, R_OK) != 0 {
                problems.append("\(config.source): \(key): cannot read \(path): \(String(cString: strerror(errno)))")
            }
        }
        return problems
    }

    /// Each notify target's files: its credential file present, a regular file and readable by
    /// its owner alone; its CA bundle readable.
    static func notifyProblems(_ config: AgentConfig) -> [String] {
        config.notify.targets.flatMap { target in
            let place = "\(config.source): notify target '\(target.id)'"
            var problems: [String] = []
            if let path = target.credentialFile, let problem = CredentialFile.problem(path: path) {
                problems.append("\(place): \(problem)")
            }
            if let path = target.caFile, access(path, R_OK) != 0 {
                problems.append("\(place): ca_file: cannot read \(path): \(String(cString: strerror(errno)))")
            }
            return problems
        }
    }

    /// nil when the daemon can create its database in `path`: an existing writable directory,
    /// or one it can create under the nearest existing directory.
    static func dataDirectoryProblem(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { return "\(path) is not a directory" }
            guard access(path, W_OK | X_OK) == 0 else {
                return "\(path) is not writable by this user (uid \(getuid())); the daemon stores readings there. Run `chown edge-agent \(path)`"
            }
            return nil
        }
        var parent = URL(fileURLWithPath: path).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDirectory) { parent.deleteLastPathComponent() }
        guard isDirectory.boolValue, access(parent.path, W_OK | X_OK) == 0 else {
            return "\(path) does not exist and cannot be created under \(parent.path)"
        }
        return nil
    }
}
