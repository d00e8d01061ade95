import Foundation
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's latest `HealthReport`, rewritten atomically every few seconds so `status`
/// and `sensors` (separate processes) read what the daemon knows without talking to it.
///
/// Readers always open `<data dir>/health.json`. Under systemd with `RuntimeDirectory=`
/// (`$RUNTIME_DIRECTORY`, a tmpfs such as /run/edge-agent) the report is written there and
/// `health.json` in the data directory is a symlink to it: a full or read-only data disk
/// then cannot stop the report, which is exactly when it matters most. Without a runtime
/// directory the report is written in the data directory itself.
enum HealthFile {
    static let name = "health.json"

    /// Writes `report` so that a reader of `path` (in the data directory) sees it.
    static func write(_ report: HealthReport, to path: String,
                      environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(report)
        guard let runtime = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first.map(String.init), !runtime.isEmpty else {
            // rename(2) is atomic: a reader sees the old file or the new one, never half.
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            return
        }
        let target = runtime + "/" + name
        try data.write(to: URL(fileURLWithPath: target), options: .atomic)
        linkIfNeeded(path, to: target)
    }

    /// Makes `path` a symlink to `target` unless it already is one. Best effort: on a full
    /// disk the link made at the first write (an inode, no data block) is what readers use.
    private static func linkIfNeeded(_ path: String, to target: String) {
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == target { return }
        let temporary = path + ".link-\(getpid())"
        unlink(temporary)
        guard symlink(target, temporary) == 0 else { return }
        if rename(temporary, path) != 0 { unlink(temporary) }
    }

    static func read(from path: String) throws -> HealthReport {
        try JSONDecoder().decode(HealthReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// Whether a daemon runs on a data directory: the daemon holds an exclusive `flock` on the
/// directory itself for as long as it runs, and the kernel drops it when the process ends,
/// however it ends (`kill -9` included). Nothing is written, so it works on a full or
/// read-only disk, and a stopped daemon is never mistaken for a running one.
enum DaemonPresence {
    /// Takes the lock for the rest of the process's life: the descriptor is never closed,
    /// the kernel closes it at exit. Returns why it could not, or nil.
    static func claim(directory: String) -> String? {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return "cannot open \(directory): \(String(cString: strerror(errno)))" }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK
                ? "another edge-agent daemon is running on \(directory)"
                : "cannot lock \(directory): \(String(cString: strerror(errno)))"
            close(fd)
            return reason
        }
        return nil
    }

    /// True when a daemon holds the lock on `directory`, false when none does, nil when it
    /// cannot be told (the directory cannot be opened).
    static func isRunning(directory: String) -> Bool? {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK ? true : nil
    }
}
