import Foundation
import Testing

/// Runs the real install.sh into a staging root and reads back what it wrote.
@Suite struct InstallScriptTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.repo.appendingPathComponent("install.sh").path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
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

    @Test func refusesUnknownOptions() throws {
        let result = try run(["--frobnicate"])
        #expect(result.status == 2)
        #expect(result.output.contains("unknown option '--frobnicate'"))
    }
}
