import EdgeTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The built `edge-agent` executable, run as a separate process the way systemd and a
/// person at the device run it.
enum AgentBinary {
    static let url = Built.product("edge-agent")
    static let repository = Built.repository

    /// Runs a CLI command to completion.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Command.Output {
        try Command.run(url, arguments, environment: environment)
    }
}

/// A running `edge-agent run` daemon with its stderr captured to a file.
final class Daemon {
    let process = Process()
    let logURL: URL

    /// - Parameter executable: what to start; the agent itself unless a wrapper runs it.
    init(arguments: [String], environment: [String: String] = [:], logURL: URL, executable: URL = AgentBinary.url) throws {
        self.logURL = logURL
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for exit up to `timeout`; returns the status, or nil if still running.
    func wait(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Polls `condition` until it holds or `timeout` passes.
    static func eventually(timeout: Duration, _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return try condition()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
