import Foundation

/// Where the checkout and the built executables are, for tests that run the real binaries
/// (`edge-agent`, `fleet-server`) as separate processes, the way systemd and people run them.
public enum Built {
    /// The repository root (device-profiles/, scripts/, packaging/ live here).
    public static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The executable `name` of this build. SwiftPM puts products next to the test bundle;
    /// `.build/debug` is the fallback for a bundle run from elsewhere.
    public static func product(_ name: String) -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0 ..< 4 {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return repository.appendingPathComponent(".build/debug/\(name)")
    }
}

/// A program run to completion with its output captured.
public struct Command {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` to completion. Both pipes are drained at once, so a child that fills
    /// one while the other is being read cannot deadlock the test.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let errData = PipeDrain(err.fileHandleForReading)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData.wait(), as: UTF8.self))
    }
}

/// Reads a pipe to its end on a thread of its own.
private final class PipeDrain: @unchecked Sendable {
    private let done = NSCondition()
    private var data: Data?

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            let read = handle.readDataToEndOfFile()
            done.lock()
            data = read
            done.signal()
            done.unlock()
        }
    }

    func wait() -> Data {
        done.lock()
        defer { done.unlock() }
        while data == nil { done.wait() }
        return data!
    }
}

extension Process {
    /// Waits for exit without holding a thread of Swift's cooperative pool. A fleet server under
    /// test answers on that pool (two threads on a two-core machine), and a child that talks to
    /// it (`sync --once`, the daemon) would never be answered while the pool's threads sat in
    /// `waitUntilExit()`: two such waits at once hung CI.
    public func exited() async -> Int32 {
        while isRunning {
            do { try await Task.sleep(for: .milliseconds(20)) } catch { waitUntilExit() }
        }
        return terminationStatus
    }
}
