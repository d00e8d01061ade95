import EdgeTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Packages the built agent with packaging/deb/make-deb.sh (what scripts/build-arm64.sh runs on
/// its cross-built binaries), reads the .deb back, installs it into a staging root with
/// dpkg --root, and starts the agent it installed. The arm64 packages themselves are built and
/// run under qemu by scripts/test-arm64.sh.
@Suite(.serialized) struct DebPackageTests {
    static let repo = AgentBinary.repository

    static func tool(_ path: String, _ arguments: [String]) throws -> Command.Output {
        try Command.run(URL(fileURLWithPath: path), arguments)
    }

    /// Builds the package for `target` from the test build's agent; returns its path.
    static func makeDeb(target: String, into directory: URL) throws -> String {
        let result = try tool("/bin/bash", [repo.appendingPathComponent("packaging/deb/make-deb.sh").path,
                                            "--binary", AgentBinary.url.path, "--arch", "amd64",
                                            "--target", target, "--out", directory.path, "--fast"])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("deb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func field(_ deb: String, _ name: String) throws -> String {
        try Self.tool("/usr/bin/dpkg-deb", ["-f", deb, name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(arguments: [
        ("bookworm", "0.1.0-1~deb12", "lib/systemd/system",
         "libc6 (>= 2.34), libgcc-s1, libstdc++6 (>= 12), libsqlite3-0, libgpiod2, libi2c0, libcurl4, zlib1g, systemd"),
        ("trixie", "0.1.0-1~deb13", "usr/lib/systemd/system",
         "libc6 (>= 2.34), libgcc-s1, libstdc++6 (>= 14), libsqlite3-0, libgpiod3, libi2c0, libcurl4t64, zlib1g, systemd"),
    ])
    func controlFieldsAndContents(target: String, version: String, unitDirectory: String, depends: String) throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let deb = try Self.makeDeb(target: target, into: directory)
        #expect(deb == directory.appendingPathComponent("edge-agent_\(version)_amd64.deb").path)

        #expect(try field(deb, "Package") == "edge-agent")
        #expect(try field(deb, "Version") == version)
        #expect(try field(deb, "Architecture") == "amd64")
        #expect(try field(deb, "Depends") == depends)
        #expect(try field(deb, "Section") == "misc")
        #expect(try field(deb, "Priority") == "optional")
        #expect(Int(try field(deb, "Installed-Size")) ?? 0 > 1000, "the agent alone is megabytes")

        let listing = try Self.tool("/usr/bin/dpkg-deb", ["-c", deb])
        #expect(listing.status == 0)
        // "-rw-r--r-- root/root 659 2026-12-03 08:27 ./etc/edge-agent/agent.yaml" → mode, owner, path
        let entries = Dictionary(listing.stdout.split(separator: "\n").compactMap { line -> (String, String)? in
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count >= 6, !columns[0].hasPrefix("d") else { return nil }
            return (String(columns[5]), "\(columns[0]) \(columns[1])")
        }, uniquingKeysWith: { first, _ in first })
        #expect(entries == [
            "./usr/bin/edge-agent": "-rwxr-xr-x root/root",
            "./\(unitDirectory)/edge-agent.service": "-rw-r--r-- root/root",
            "./usr/lib/sysusers.d/edge-agent.conf": "-rw-r--r-- root/root",
            "./usr/lib/tmpfiles.d/edge-agent.conf": "-rw-r--r-- root/root",
            "./etc/edge-agent/agent.yaml": "-rw-r--r-- root/root",
            "./etc/edge-agent/profiles/reef-pi.yaml": "-rw-r--r-- root/root",
            "./etc/edge-agent/profiles/reef-sim.yaml": "-rw-r--r-- root/root",
            "./usr/share/doc/edge-agent/README.md": "-rw-r--r-- root/root",
            "./usr/share/doc/edge-agent/changelog.Debian.gz": "-rw-r--r-- root/root",
            "./usr/share/doc/edge-agent/copyright": "-rw-r--r-- root/root",
            "./usr/share/lintian/overrides/edge-agent": "-rw-r--r-- root/root",
        ])

        let control = directory.appendingPathComponent("control")
        #expect(try Self.tool("/usr/bin/dpkg-deb", ["-e", deb, control.path]).status == 0)
        let conffiles = try String(contentsOf: control.appendingPathComponent("conffiles"), encoding: .utf8)
        #expect(conffiles == "/etc/edge-agent/agent.yaml\n/etc/edge-agent/profiles/reef-pi.yaml\n/etc/edge-agent/profiles/reef-sim.yaml\n")
        for script in ["postinst", "prerm", "postrm"] {
            #expect(FileManager.default.isExecutableFile(atPath: control.appendingPathComponent(script).path), "\(script)")
        }
    }

    /// The package's unit is install.sh's, line for line, with the package's paths.
    @Test func unitIsInstallShUnitWithPackagePaths() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let deb = try Self.makeDeb(target: "bookworm", into: directory)
        let tree = directory.appendingPathComponent("tree")
        #expect(try Self.tool("/usr/bin/dpkg-deb", ["-x", deb, tree.path]).status == 0)
        let packaged = try String(contentsOf: tree.appendingPathComponent("lib/systemd/system/edge-agent.service"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        let source = try String(contentsOf: Self.repo.appendingPathComponent("packaging/edge-agent.service"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        #expect(packaged.count == source.count)
        let changed = zip(source, packaged).filter { $0 != $1 }
        #expect(changed.map { String($0.1) } == [
            "# Installed by the edge-agent Debian package; local changes belong in a drop-in (systemctl edit edge-agent).",
            "Documentation=file:///usr/share/doc/edge-agent/README.md",
            "ExecStart=/usr/bin/edge-agent run --config /etc/edge-agent/agent.yaml",
            "ExecStopPost=/usr/bin/edge-agent failsafe --config /etc/edge-agent/agent.yaml",
        ])
    }

    /// install.sh --deb into a staging root: the maintainer scripts create the user, the data
    /// directory and the token file, enable the unit; the installed agent runs on reef-sim.yaml
    /// as a daemon and stores readings. Remove keeps config and data; purge drops them.
    @Test func installsIntoStagingRootAndTheInstalledAgentRuns() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let deb = try Self.makeDeb(target: "bookworm", into: directory)
        let root = directory.appendingPathComponent("root")
        let install = try Self.tool("/bin/bash", [Self.repo.appendingPathComponent("install.sh").path, "--root", root.path, "--deb", deb])
        #expect(install.status == 0, "\(install.stdout)\(install.stderr)")
        #expect(install.stdout.contains("install.sh: staged edge-agent_0.1.0-1~deb12_amd64.deb into \(root.path)"))

        func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
        func attributes(_ relative: String) throws -> (mode: Int, user: String) {
            let a = try FileManager.default.attributesOfItem(atPath: path(relative))
            let uid = (a[.ownerAccountID] as? NSNumber)?.uint32Value ?? 0
            let passwd = try String(contentsOfFile: path("etc/passwd"), encoding: .utf8)
            let user = passwd.split(separator: "\n").first { $0.split(separator: ":")[2] == "\(uid)" }.map { String($0.split(separator: ":")[0]) } ?? "uid \(uid)"
            return ((a[.posixPermissions] as? NSNumber)?.intValue ?? -1, uid == 0 ? "root" : user)
        }
        let passwd = try String(contentsOfFile: path("etc/passwd"), encoding: .utf8)
        #expect(passwd.split(separator: "\n").contains { $0.hasPrefix("edge-agent:x:") && $0.hasSuffix(":reef-edge agent:/var/lib/edge-agent:/usr/sbin/nologin") })
        let groups = try String(contentsOfFile: path("etc/group"), encoding: .utf8).split(separator: "\n")
        #expect(groups.contains { $0.hasPrefix("gpio:") && $0.hasSuffix(":edge-agent") })
        #expect(groups.contains { $0.hasPrefix("i2c:") && $0.hasSuffix(":edge-agent") })
        let data = try attributes("var/lib/edge-agent")
        #expect(data.mode == 0o750 && data.user == "edge-agent")
        let token = try attributes("etc/edge-agent/token")
        #expect(token.mode == 0o600 && token.user == "edge-agent")
        #expect(try attributes("etc/edge-agent/agent.yaml").mode == 0o640)
        // Enabled, not started: the wants link exists; nothing was run (no systemd here).
        let wants = path("etc/systemd/system/multi-user.target.wants/edge-agent.service")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: wants) == "/lib/systemd/system/edge-agent.service")

        // The agent the package installed, on the profile it installed.
        let agent = URL(fileURLWithPath: path("usr/bin/edge-agent"))
        let profile = path("etc/edge-agent/profiles/reef-sim.yaml")
        let dataDir = directory.appendingPathComponent("data").path
        let once = try Self.tool(agent.path, ["run", "--once", "--profile", profile, "--data-dir", dataDir])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(once.stdout.contains("tank_temp"))
        let daemon = try Daemon(arguments: ["run", "--profile", profile, "--data-dir", dataDir],
                                logURL: directory.appendingPathComponent("agent.log"), executable: agent)
        let stored = try await Daemon.eventually(timeout: .seconds(20)) {
            let dump = try Self.tool(agent.path, ["readings", "dump", "--data-dir", dataDir, "--format", "json", "--sensor", "tank_temp"])
            return dump.status == 0 && dump.stdout.contains("\"tank_temp\"")
        }
        #expect(stored, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(20)) == 0, "\(daemon.log)")

        // remove: config, token and data stay; purge: they go.
        try "device_id: mine\n".write(toFile: path("etc/edge-agent/agent.yaml"), atomically: false, encoding: .utf8)
        let remove = try Self.tool("/usr/bin/dpkg", ["--root=\(root.path)", "--force-script-chrootless", "--force-depends", "-r", "edge-agent"])
        #expect(remove.status == 0, "\(remove.stdout)\(remove.stderr)")
        #expect(!FileManager.default.fileExists(atPath: agent.path))
        #expect(try String(contentsOfFile: path("etc/edge-agent/agent.yaml"), encoding: .utf8) == "device_id: mine\n")
        #expect(FileManager.default.fileExists(atPath: path("etc/edge-agent/token")))
        #expect(FileManager.default.fileExists(atPath: path("var/lib/edge-agent")))
        let purge = try Self.tool("/usr/bin/dpkg", ["--root=\(root.path)", "--force-script-chrootless", "--force-depends", "-P", "edge-agent"])
        #expect(purge.status == 0, "\(purge.stdout)\(purge.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path("etc/edge-agent")))
        #expect(!FileManager.default.fileExists(atPath: path("var/lib/edge-agent")))
        #expect(!FileManager.default.fileExists(atPath: wants))
    }
}
