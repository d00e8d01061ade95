import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 11: a number too big for its type in a profile reloaded on SIGHUP used to trap the
/// running daemon; now the reload is rejected with file:line and the range, and the old
/// profile keeps polling.
@Suite(.serialized) struct InputReloadTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func count() throws -> Int {
        let out = try AgentBinary.run(["readings", "dump", "--data-dir", directory.appendingPathComponent("data").path, "--format", "ndjson"])
        return out.status == 0 ? out.stdout.split(separator: "\n").count : 0
    }

    @Test func anOverflowingNumberOnReloadKeepsTheOldProfile() async throws {
        let path = directory.appendingPathComponent("profile.yaml")
        try DaemonTests.profile().write(to: path, atomically: true, encoding: .utf8)
        let daemon = try Daemon(arguments: ["run", "--profile", path.path, "--data-dir", directory.appendingPathComponent("data").path],
                                environment: ["EDGE_AGENT_CONFIG": "", "NOTIFY_SOCKET": ""],
                                logURL: directory.appendingPathComponent("agent.log"))
        #expect(try await Daemon.eventually(timeout: .seconds(30)) { try count() >= 5 })
        let hostile = DaemonTests.profile().replacingOccurrences(of: "slave: 28-0000075a1b2c, interval: 200ms",
                                                                 with: "slave: 28-0000075a1b2c, interval: 9223372036854775807s")
        #expect(hostile != DaemonTests.profile())
        try hostile.write(to: path, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        let rejected = await Daemon.eventually(timeout: .seconds(10)) { daemon.log.contains("keeping the running profile") }
        #expect(rejected, "\(daemon.log)")
        #expect(daemon.log.contains("\(path.path):7:82: sensors[0].interval: '9223372036854775807s' is not a duration in 100ms...1d"), "\(daemon.log)")
        let before = try count()
        #expect(try await Daemon.eventually(timeout: .seconds(10)) { try count() > before + 3 })
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0)
    }
}
