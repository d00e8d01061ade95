import EdgeTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs the real install.sh into a staging root and reads back what it wrote.
@Suite struct InstallScriptTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try tool("/bin/bash", [Self.repo.appendingPathComponent("install.sh").path] + arguments)
    }

    func read(_ root: URL, _ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func stagesUnitUserDirectoriesAndIsSafeToRepeat() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("stage-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let first = try run(["--root", root.path, "--binary", "/bin/true"])
        #expect(first.status == 0, "\(first.output)")

        let unit = try read(root, "etc/systemd/system/edge-agent.service")
        for line in ["Type=notify", "WatchdogSec=30", "Restart=on-failure", "ProtectSystem=strict",
                     "ReadWritePaths=/var/lib/edge-agent", "NoNewPrivileges=yes", "PrivateTmp=yes",
                     "DeviceAllow=char-gpiochip rw", "DeviceAllow=char-i2c rw", "User=edge-agent",
                     "SupplementaryGroups=gpio i2c",
                     "ExecStart=/usr/local/bin/edge-agent run --config /etc/edge-agent/agent.yaml"] {
            #expect(unit.split(separator: "\n").contains(Substring(line)), "unit lacks \(line)")
        }
        let passwd = try read(root, "etc/passwd")
        #expect(passwd.contains("edge-agent:x:"))
        #expect(passwd.contains(":/var/lib/edge-agent:/usr/sbin/nologin"))
        let groups = try read(root, "etc/group").split(separator: "\n")
        #expect(groups.contains { $0.hasPrefix("gpio:") && $0.hasSuffix(":edge-agent") })
        #expect(groups.contains { $0.hasPrefix("i2c:") && $0.hasSuffix(":edge-agent") })

        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("var/lib/edge-agent").path, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(FileManager.default.isExecutableFile(atPath: root.appendingPathComponent("usr/local/bin/edge-agent").path))
        #expect(try read(root, "etc/edge-agent/agent.yaml").contains("profile: /etc/edge-agent/profiles/reef-sim.yaml"))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("etc/edge-agent/profiles/reef-sim.yaml").path))

        // The operator edits the config; a second run keeps it and adds no second user.
        try "device_id: mine\n".write(to: root.appendingPathComponent("etc/edge-agent/agent.yaml"), atomically: true, encoding: .utf8)
        let second = try run(["--root", root.path, "--binary", "/bin/true"])
        #expect(second.status == 0)
        #expect(second.output.contains("kept your"))
        #expect(try read(root, "etc/edge-agent/agent.yaml") == "device_id: mine\n")
        #expect(try read(root, "etc/passwd").components(separatedBy: "edge-agent:x:").count == 2)

        // Uninstall keeps config and data unless purged.
        #expect(try run(["--root", root.path, "--uninstall"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("etc/systemd/system/edge-agent.service").path))
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("usr/local/bin/edge-agent").path))
        #expect(!(try read(root, "etc/passwd")).contains("edge-agent"))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("etc/edge-agent/agent.yaml").path))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("var/lib/edge-agent").path))
        #expect(try run(["--root", root.path, "--uninstall", "--purge"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("var/lib/edge-agent").path))
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("etc/edge-agent").path))
    }

    /// Stages the unit into a fresh root; the caller removes it.
    func stage() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("stage-\(UUID().uuidString)")
        let result = try run(["--root", root.path, "--binary", "/bin/true"])
        #expect(result.status == 0, "\(result.output)")
        return root
    }

    /// Runs a tool to completion; its stdout and stderr, in that order.
    func tool(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let out = try Command.run(URL(fileURLWithPath: path), arguments)
        return (out.status, out.stdout + out.stderr)
    }

    @Test func tokenFileIsTheAgentsAloneAndNoAccountFileIsWorldReadable() throws {
        let root = try stage()
        defer { try? FileManager.default.removeItem(at: root) }
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: root.appendingPathComponent(path).path)[.posixPermissions] as? Int) ?? -1
        }
        #expect(try mode("etc/edge-agent/token") == 0o600)
        #expect(try read(root, "etc/edge-agent/token").isEmpty)
        #expect(try mode("etc/shadow") == 0o640)
        #expect(try mode("etc/gshadow") == 0o640)
        #expect(try mode("etc/edge-agent/agent.yaml") == 0o640)
    }

    /// `systemd-analyze security` on the staged unit, offline: the exposure the issue asks
    /// for is at most 3.0 ("OK"), and `--threshold` makes systemd itself fail above it.
    @Test func unitExposureIsAtMostThree() throws {
        let root = try stage()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try tool("/usr/bin/systemd-analyze", ["security", "--offline=yes", "--root=\(root.path)",
                                                           "--threshold=30", "--no-pager", "edge-agent.service"])
        #expect(result.status == 0, "\(result.output)")
        let overall = result.output.split(separator: "\n").first { $0.contains("Overall exposure level for edge-agent.service:") }
        let score = overall.flatMap { line in
            line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
        }
        #expect(score != nil && score! <= 3.0, "\(overall.map(String.init) ?? result.output)")
    }

    /// The agent under the unit's seccomp directives (scripts/unit-sandbox.sh: the unit's own
    /// SystemCallFilter= sets expanded by systemd-analyze, MemoryDenyWriteExecute=,
    /// RestrictAddressFamilies=, an empty capability bounding set; a syscall outside the set
    /// kills the process): `run --once`, then the daemon with sync trying a closed port, then
    /// SIGTERM. Exit 0 and stored readings mean nothing it does is outside the filter.
    @Test func agentRunsUnderTheUnitsSyscallFilter() async throws {
        let root = try stage()
        defer { try? FileManager.default.removeItem(at: root) }
        let unit = root.appendingPathComponent("etc/systemd/system/edge-agent.service").path
        let sandbox = Self.repo.appendingPathComponent("scripts/unit-sandbox.sh").path
        let profile = Self.repo.appendingPathComponent("device-profiles/reef-sim.yaml").path
        let data = root.appendingPathComponent("data").path
        let token = root.appendingPathComponent("token")
        // As the unit's User=: an unprivileged user owning the data directory and the token.
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root.path)
        try "sandbox-token\n".write(to: token, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600, .ownerAccountID: 65534], ofItemAtPath: token.path)
        try FileManager.default.setAttributes([.ownerAccountID: 65534], ofItemAtPath: data)
        let user = ["--as", "nobody"]

        let once = try tool("/bin/bash", [sandbox, unit] + user + ["--", AgentBinary.url.path, "run", "--once",
                                          "--profile", profile, "--data-dir", data])
        #expect(once.status == 0, "\(once.output)")
        #expect(once.output.contains("tank_temp"), "\(once.output)")

        let daemon = try Daemon(arguments: [sandbox, unit] + user + ["--", AgentBinary.url.path, "run", "--profile", profile, "--data-dir", data],
                                environment: ["EDGE_AGENT_CONFIG": "", "NOTIFY_SOCKET": "",
                                              "EDGE_AGENT_SYNC_URL": "https://127.0.0.1:9/", "EDGE_AGENT_SYNC_TOKEN_FILE": token.path],
                                logURL: root.appendingPathComponent("agent.log"), executable: URL(fileURLWithPath: "/bin/bash"))
        let stored = try await Daemon.eventually(timeout: .seconds(30)) {
            let dump = try AgentBinary.run(["readings", "dump", "--data-dir", data, "--format", "csv", "--sensor", "tank_temp"])
            return dump.status == 0 && dump.stdout.split(separator: "\n").count >= 3
        }
        #expect(stored, "\(daemon.log)")
        // The sandbox's shell forwards nothing: signal the agent itself (setpriv and the
        // sandbox exec into it, so it is the shell's only child).
        let agent = try tool("/usr/bin/pgrep", ["-P", "\(daemon.process.processIdentifier)"])
        let pid = Int32(agent.output.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(pid != nil, "\(agent.output)")
        if let pid { kill(pid, SIGTERM) }
        let status = await daemon.wait(timeout: .seconds(10))
        #expect(status == 0, "\(daemon.log)")
        #expect(!daemon.log.contains("Bad system call"), "\(daemon.log)")
    }

    @Test func refusesUnknownOptions() throws {
        let result = try run(["--frobnicate"])
        #expect(result.status == 2)
        #expect(result.output.contains("unknown option '--frobnicate'"))
    }
}
