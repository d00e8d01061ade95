import Foundation

/// Steady-state footprint of the release `edge-agent run`: resident memory (VmRSS from
/// /proc/PID/status) and CPU (utime + stime from /proc/PID/stat over wall time), sampled
/// after a warm-up so that start-up (migration, profile parsing) is not counted.
struct FootprintBenchmark {
    var agent: String
    var profile: String
    var window: Duration
    var warmUp: Duration
    /// CPU is reported per slice of the window, so it gets a median, min and max too.
    var slices = 6

    func figures() throws -> [Figure] {
        let scratch = try Scratch("footprint")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: agent)
        process.arguments = ["run"]
        var environment = ProcessInfo.processInfo.environment
        environment["EDGE_AGENT_PROFILE"] = profile
        environment["EDGE_AGENT_DATA_DIR"] = scratch.file("data")
        environment["EDGE_AGENT_DEVICE_ID"] = "bench"
        environment["EDGE_AGENT_LOG_LEVEL"] = "warning"
        environment["EDGE_AGENT_SYNC_URL"] = ""
        environment["EDGE_AGENT_CONFIG"] = "/dev/null"
        process.environment = environment
        let log = FileHandle(forWritingAtPath: scratch.file("agent.log")) ?? {
            FileManager.default.createFile(atPath: scratch.file("agent.log"), contents: nil)
            return FileHandle(forWritingAtPath: scratch.file("agent.log"))!
        }()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        defer {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        let pid = process.processIdentifier
        Thread.sleep(forTimeInterval: warmUp.seconds)
        func died() -> BenchError {
            let text = (try? String(contentsOfFile: scratch.file("agent.log"), encoding: .utf8)) ?? ""
            return BenchError("edge-agent run exited (status \(process.terminationStatus)) during the footprint run: \(text.suffix(400))")
        }
        guard process.isRunning, var last = ProcSample.read(pid: pid) else { throw died() }
        var rss: [Double] = []
        var cpu: [Double] = []
        let sliceSeconds = window.seconds / Double(slices)
        let samplesPerSlice = max(1, Int(sliceSeconds.rounded()))
        for _ in 0..<slices {
            for _ in 0..<samplesPerSlice {
                Thread.sleep(forTimeInterval: sliceSeconds / Double(samplesPerSlice))
                guard process.isRunning, let sample = ProcSample.read(pid: pid) else { throw died() }
                rss.append(Double(sample.rssKiB) / 1024)
                if sample.wallSeconds - last.wallSeconds >= sliceSeconds * 0.999 {
                    cpu.append(100 * (sample.cpuSeconds - last.cpuSeconds) / (sample.wallSeconds - last.wallSeconds))
                    last = sample
                }
            }
        }
        return [
            Figure(name: "footprint: edge-agent RSS, steady state", unit: "MiB", samples: rss,
                   goals: [.atMost(15)], judgedOnMax: true),
            Figure(name: "footprint: edge-agent CPU, per \(Format.number(sliceSeconds)) s slice", unit: "% of a core",
                   samples: cpu, goals: [.atMost(0.5)]),
        ]
    }
}

/// One reading of /proc for a process.
struct ProcSample {
    var rssKiB: Int
    var cpuSeconds: Double
    var wallSeconds: Double

    static func read(pid: Int32) -> ProcSample? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let rssLine = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let rss = Int(rssLine.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        // Fields after the command name, which is in parentheses and may contain spaces:
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after ") ".
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return ProcSample(
            rssKiB: rss, cpuSeconds: (user + system) / ticks,
            wallSeconds: Double(now.tv_sec) + Double(now.tv_nsec) / 1e9)
    }
}

/// Size of the release binary as built, and stripped of symbols (what a package would ship).
struct BinarySize {
    var path: String

    func figures() throws -> [Figure] {
        let scratch = try Scratch("strip")
        let stripped = scratch.file("edge-agent")
        let strip = Process()
        strip.executableURL = URL(fileURLWithPath: "/usr/bin/strip")
        strip.arguments = ["-o", stripped, path]
        try strip.run()
        strip.waitUntilExit()
        guard strip.terminationStatus == 0 else { throw BenchError("strip \(path) failed with status \(strip.terminationStatus)") }
        return [
            Figure(name: "binary: edge-agent release, unstripped", unit: "MiB", samples: [try Self.mebibytes(path)]),
            Figure(name: "binary: edge-agent release, stripped", unit: "MiB", samples: [try Self.mebibytes(stripped)]),
            Figure(name: "binary: Swift runtime and Foundation libraries it loads", unit: "MiB",
                   samples: [try swiftLibraries().reduce(0) { $0 + (try Self.mebibytes($1)) }]),
        ]
    }

    /// Shared libraries from the Swift toolchain (`ldd`): a device without a Swift toolchain
    /// has to carry them next to the binary, so they belong in its size.
    func swiftLibraries() throws -> [String] {
        try shell("ldd '\(path)'").split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard let arrow = parts.firstIndex(of: "=>"), arrow + 1 < parts.count else { return nil }
            let library = String(parts[arrow + 1])
            return library.contains("/swift/") ? library : nil
        }
    }

    static func mebibytes(_ path: String) throws -> Double {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return Double((attributes[.size] as? NSNumber)?.int64Value ?? 0) / 1_048_576
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
