import EdgeTesting
import EdgeCore
import FleetServerTesting
import Foundation
import Profiles

/// Steady-state footprint of the release `edge-agent run`: resident memory (VmRSS from
/// /proc/PID/status, and its anonymous part, RssAnon) and CPU (utime + stime from
/// /proc/PID/stat over wall time), sampled after a warm-up so that start-up (migration,
/// profile parsing) is not counted. `footprint-floor`, built the same way, runs beside it over
/// the same window: the baseline any Swift + Foundation process costs on this machine.
struct FootprintBenchmark {
    var agent: String
    var floor: String
    var profile: String
    var window: Duration
    var warmUp: Duration
    /// CPU is reported per slice of the window, so it gets a median, min and max too.
    var slices = 6

    /// The sensors the footprint is measured with, and the rate each is polled at.
    static let sensors = 10
    static let interval = Duration.seconds(1)

    /// `source` with every `interval:` set to 1 s, written to `path`; checked by loading it
    /// as the agent will, so a profile that is not 10 sensors at 1 Hz is refused, not measured.
    static func oneHertz(_ source: String, into path: String) throws -> String {
        let text = try String(contentsOfFile: source, encoding: .utf8)
        let rewritten = text.replacing(#/(?<key>\binterval:\s*)[0-9.]+\s*(?:ms|s|m|h)\b/#) { "\($0.key)1s" }
        try rewritten.write(toFile: path, atomically: true, encoding: .utf8)
        let profile = try DeviceProfile.load(path: path)
        guard profile.sensors.count == sensors, profile.sensors.allSatisfy({ $0.interval == interval }) else {
            throw BenchError("""
                \(source) gives \(profile.sensors.count) sensors at \(Set(profile.sensors.map(\.interval)).map { "\($0)" }.sorted()); \
                the footprint is defined for \(sensors) sensors at 1 Hz
                """)
        }
        return path
    }

    func figures() throws -> [Figure] {
        let scratch = try Scratch("footprint")
        try Data().write(to: URL(fileURLWithPath: scratch.file("agent.yaml")))
        var environment = ProcessInfo.processInfo.environment
        environment["EDGE_AGENT_CONFIG"] = scratch.file("agent.yaml")
        environment["EDGE_AGENT_PROFILE"] = profile
        environment["EDGE_AGENT_DATA_DIR"] = scratch.file("data")
        environment["EDGE_AGENT_DEVICE_ID"] = "bench"
        environment["EDGE_AGENT_LOG_LEVEL"] = "warning"
        environment["EDGE_AGENT_SYNC_URL"] = ""
        let agent = try Watched(agent, ["run"], environment: environment, log: scratch.file("agent.log"))
        let floor = try Watched(floor, [], environment: environment, log: scratch.file("floor.log"))
        Thread.sleep(forTimeInterval: warmUp.inSeconds)
        var agentSeries = try Series(agent)
        var floorSeries = try Series(floor)
        let sliceSeconds = window.inSeconds / Double(slices)
        let samplesPerSlice = max(1, Int(sliceSeconds.rounded()))
        for _ in 0..<slices {
            for sample in 0..<samplesPerSlice {
                Thread.sleep(forTimeInterval: sliceSeconds / Double(samplesPerSlice))
                let sliceEnds = sample == samplesPerSlice - 1
                try agentSeries.sample(agent, closingSlice: sliceEnds)
                try floorSeries.sample(floor, closingSlice: sliceEnds)
            }
        }
        return [
            Figure(name: "footprint: edge-agent RSS (baseline: footprint-floor)", unit: "MiB", samples: agentSeries.rss,
                   baseline: floorSeries.rss, goals: [.atMost(15)], judgedOnMax: true),
            Figure(name: "footprint: edge-agent RSS, anonymous part (heap, stacks)", unit: "MiB", samples: agentSeries.anonymous,
                   baseline: floorSeries.anonymous),
            Figure(name: "footprint: edge-agent CPU per \(Format.number(sliceSeconds)) s (baseline: footprint-floor)",
                   unit: "% of a core", samples: agentSeries.cpu, baseline: floorSeries.cpu, goals: [.atMost(0.5)]),
        ]
    }

    /// A child process whose /proc entries are sampled; terminated when the value goes away.
    final class Watched {
        let process = Process()
        let name: String
        let log: String

        init(_ executable: String, _ arguments: [String], environment: [String: String], log: String) throws {
            name = URL(fileURLWithPath: executable).lastPathComponent
            self.log = log
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = FileHandle(forWritingAtPath: log)
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.environment = environment
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        func read() throws -> ProcSample {
            guard process.isRunning, let sample = ProcSample.read(pid: process.processIdentifier) else {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw BenchError("\(name) exited (status \(process.terminationStatus)) during the footprint run: \(text.suffix(400))")
            }
            return sample
        }

        deinit {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
    }

    /// RSS samples in MiB, and CPU per slice in percent of a core.
    struct Series {
        var rss: [Double] = []
        var anonymous: [Double] = []
        var cpu: [Double] = []
        private var sliceStart: ProcSample

        init(_ process: Watched) throws { sliceStart = try process.read() }

        mutating func sample(_ process: Watched, closingSlice: Bool) throws {
            let sample = try process.read()
            rss.append(Double(sample.rssKiB) / 1024)
            anonymous.append(Double(sample.anonymousKiB) / 1024)
            guard closingSlice else { return }
            cpu.append(100 * (sample.cpuSeconds - sliceStart.cpuSeconds) / (sample.wallSeconds - sliceStart.wallSeconds))
            sliceStart = sample
        }
    }
}

/// One reading of /proc for a process.
struct ProcSample {
    var rssKiB: Int
    var anonymousKiB: Int
    var cpuSeconds: Double
    var wallSeconds: Double

    static func read(pid: Int32) -> ProcSample? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        else { return nil }
        func kibibytes(_ field: String) -> Int? {
            status.split(separator: "\n").first { $0.hasPrefix(field + ":") }
                .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
        }
        guard let rss = kibibytes("VmRSS"), let anonymous = kibibytes("RssAnon") else { return nil }
        // Fields after the command name, which is in parentheses and may contain spaces:
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after ") ".
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return ProcSample(
            rssKiB: rss, anonymousKiB: anonymous, cpuSeconds: (user + system) / ticks,
            wallSeconds: Double(now.tv_sec) + Double(now.tv_nsec) / 1e9)
    }
}

/// Size of the release binary as built, and stripped of symbols (what a package would ship).
struct BinarySize {
    var path: String

    func figures() throws -> [Figure] {
        let scratch = try Scratch("strip")
        let stripped = scratch.file("edge-agent")
        _ = try blocking { try await Processes.run("/usr/bin/strip", ["-o", stripped, path]) }
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
        try blocking { try await Processes.run("/usr/bin/ldd", [path]) }.split(separator: "\n").compactMap { line in
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
