import EdgeTesting
import FleetServerTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real daemon against the real fleet server with a wrong CA, a wrong token and another
/// device's id: each failing sync makes `status --json` degraded (exit 1) with the reason at
/// once, not when the backlog is an hour old.
@Suite(.serialized) struct SyncFailingHealthTests {
    static let profile = """
        name: failing-sync
        buses:
          - { id: w1, kind: w1, simulated: true }
        sensors:
          - { id: tank_temp, driver: ds18b20, bus: w1, slave: 28-0000075a1b2c, interval: 200ms,
              simulation: { temperature: { constant: 25.5 } } }
        """

    /// Runs the daemon with `overrides` (environment, and `TOKEN` for the token file's
    /// contents) until `status --json` names a failing sync, and
    /// returns its exit code and reasons.
    func failingStatus(_ server: ServerHarness, _ overrides: [String: String]) async throws -> (Int32, [String]) {
        let scratch = try TemporaryDirectory("failing-sync")
        let directory = scratch.path
        try Self.profile.write(toFile: directory + "/profile.yaml", atomically: true, encoding: .utf8)
        let agent = AgentProcesses(server: server, directory: directory, overrides: overrides.filter { $0.key != "TOKEN" })
        if let token = overrides["TOKEN"] {
            FileManager.default.createFile(atPath: agent.tokenPath, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
        }
        let daemon = try agent.start(["run", "--profile", directory + "/profile.yaml", "--data-dir", directory + "/data"])
        defer {
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            let out = Pipe()
            let status = try agent.start(["status", "--json", "--data-dir", directory + "/data"], stdout: out)
            _ = await status.exited()  // its report is far below a pipe's buffer
            let data = out.fileHandleForReading.readDataToEndOfFile()
            let report = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            let reasons = report["reasons"] as? [String] ?? []
            if reasons.contains(where: { $0.hasPrefix("sync failing (") }) { return (status.terminationStatus, reasons) }
        }
        return (-1, [])
    }

    @Test func aWrongCATokenOrDeviceMakesTheDeviceDegradedAtOnce() async throws {
        try await ServerHarness.with { server in
            let wrongCA = try await failingStatus(server, ["EDGE_AGENT_SYNC_CA_FILE": server.certificates.untrustedCA])
            #expect(wrongCA.0 == 1)
            #expect(wrongCA.1.contains { $0.hasPrefix("sync failing (") && $0.contains("never synced): tls error: ") }, "\(wrongCA.1)")

            let wrongToken = try await failingStatus(server, ["TOKEN": "not-the-device-token-0123"])
            #expect(wrongToken.0 == 1)
            #expect(wrongToken.1.contains { $0.hasPrefix("sync failing (") && $0.contains("never synced): HTTP 401: ") }, "\(wrongToken.1)")

            let otherDevice = try await failingStatus(server, ["EDGE_AGENT_DEVICE_ID": "someone-else"])
            #expect(otherDevice.0 == 1)
            #expect(otherDevice.1.contains { $0.hasPrefix("sync failing (") && $0.contains("never synced): HTTP 403: ") }, "\(otherDevice.1)")
        }
    }
}
