import Foundation
import Testing
@testable import edge_agent

/// Issue 11: check-config reports before a start everything the daemon would trip on — sync
/// settings, the token file, the data directory, an http:// URL — every error at once, exit
/// 78, and never prints a password from the sync URL.
@Suite struct InputCheckConfigTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func write(_ text: String, _ name: String, mode: Int = 0o644) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    var profile: String { AgentBinary.repository.appendingPathComponent("device-profiles/reef-sim.yaml").path }

    @Test func everyStartProblemAtOnceWithExit78() throws {
        let token = try write("tok\n", "token", mode: 0o644)
        let notADirectory = try write("", "plain-file")
        let config = try write("""
        profile: \(profile)
        data_dir: \(notADirectory)/data
        sync:
          url: http://dev:s3cret@fleet.example:8080
          token_file: \(token)
          interval: 0s
          ca_file: \(directory.path)/missing-ca.pem
        """, "agent.yaml")
        let run = try AgentBinary.run(["check-config"], environment: ["EDGE_AGENT_CONFIG": config])
        #expect(run.status == 78)
        #expect(run.stdout == "")
        #expect(run.stderr == """
        \(config):6:13: sync.interval: '0s' is out of range; allowed: 1s...1d
        \(config):4:8: sync.url: http:// sends the device token in clear; use https:// (http is only for a local test server, with sync.allow_insecure_http: true)
        \(config): data_dir: \(notADirectory)/data does not exist and cannot be created under \(notADirectory)
        \(config): sync.token_file: token file \(token) has mode 644; others could read the device's token. Run `chmod 600 \(token)`
        \(config): sync.ca_file: cannot read \(directory.path)/missing-ca.pem: No such file or directory

        """)
        #expect(!run.stderr.contains("s3cret"))
    }

    @Test func aGoodSetupPrintsTheRedactedURL() throws {
        let token = try write("tok\n", "token", mode: 0o600)
        let config = try write("""
        profile: \(profile)
        data_dir: \(directory.path)/data
        sync:
          url: https://dev:s3cret@fleet.example:8443
          token_file: \(token)
        """, "agent.yaml")
        let run = try AgentBinary.run(["check-config"], environment: ["EDGE_AGENT_CONFIG": config])
        #expect(run.stderr == "")
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("\(config): ok — sync to https://***@fleet.example:8443, data in \(directory.path)/data\n"))
    }

    @Test func aMissingTokenFileAndABrokenProfileTogether() throws {
        let config = try write("""
        profile: \(directory.path)/nope.yaml
        data_dir: \(directory.path)/data
        sync:
          url: https://fleet.example:8443
          token_file: \(directory.path)/no-token
        """, "agent.yaml")
        let run = try AgentBinary.run(["check-config"], environment: ["EDGE_AGENT_CONFIG": config])
        #expect(run.status == 78)
        #expect(run.stderr == """
        \(config): sync.token_file: cannot read token file \(directory.path)/no-token: No such file or directory
        \(directory.path)/nope.yaml: cannot read the profile (does it exist, and may this user read it?)

        """)
    }
}
