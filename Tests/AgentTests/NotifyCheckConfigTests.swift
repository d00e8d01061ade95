import EdgeTesting
import Foundation
import Testing
@testable import edge_agent

/// check-config judges notify targets before a start: plain-text URLs, duplicate ids,
/// credential files missing or readable by others, CA bundles it cannot read — every problem
/// at once, exit 78.
@Suite struct NotifyCheckConfigTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory("notify-check") }

    func write(_ text: String, _ name: String, mode: Int = 0o644) throws -> String {
        let path = directory.file(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    var profile: String { AgentBinary.repository.appendingPathComponent("device-profiles/reef-sim.yaml").path }

    @Test func everyTargetProblemAtOnceWithExit78() throws {
        let open = try write("token\n", "open-token", mode: 0o644)
        let config = try write("""
        profile: \(profile)
        data_dir: \(directory.path)/data
        notify:
          - id: phone
            kind: ntfy
            url: https://ntfy.sh/my-reef
            credential_file: \(open)
          - id: phone
            kind: webhook
            url: https://hooks.example/reef
          - id: tg
            kind: telegram
            url: https://api.telegram.org
            recipient: "12345"
            credential_file: \(directory.path)/missing-bot-token
            ca_file: \(directory.path)/missing-ca.pem
          - id: mail
            kind: email
            url: smtp://mail.example.org:25
            recipient: keeper@example.org
            sender: reef@example.org
          - id: plain
            kind: pushover
            url: http://api.pushover.net/1/messages.json
        """, "agent.yaml")
        let run = try AgentBinary.run(["check-config"], environment: ["EDGE_AGENT_CONFIG": config])
        #expect(run.status == 78)
        #expect(run.stdout == "")
        #expect(run.stderr == """
        \(config):8:5: notify[1].id: duplicate target id 'phone'; give each target its own id
        \(config):22:5: notify[4]: notify target 'plain': pushover needs an https:// url, not http://; alerts are never sent in plain text
        \(config): notify target 'phone': credential file \(open) has mode 644; others on the device could read the secret. Run `chmod 600 \(open)`
        \(config): notify target 'tg': credential file \(directory.path)/missing-bot-token does not exist; create it with the secret on one line, then `chmod 600 \(directory.path)/missing-bot-token`
        \(config): notify target 'tg': ca_file: cannot read \(directory.path)/missing-ca.pem: No such file or directory

        """)
    }

    @Test func aGoodTargetIsListedAfterTheConfigLine() throws {
        let token = try write("token\n", "token", mode: 0o600)
        let config = try write("""
        profile: \(profile)
        data_dir: \(directory.path)/data
        notify:
          - kind: ntfy
            url: https://ntfy.sh/my-reef
          - id: mail
            kind: email
            url: smtps://mail.example.org:465
            credential_file: \(token)
            recipient: keeper@example.org
            sender: reef@example.org
        """, "agent.yaml")
        let run = try AgentBinary.run(["check-config"], environment: ["EDGE_AGENT_CONFIG": config])
        #expect(run.stderr == "")
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("""
        \(config): ok — sync off, data in \(directory.path)/data
        \(config): notify ok — ntfy (ntfy), mail (email)

        """))
    }
}
