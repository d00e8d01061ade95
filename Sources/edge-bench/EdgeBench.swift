import ArgumentParser
import FleetServerTesting
import Foundation
import Synchronization

/// Measures the agent and the server against what the machine allows, in one run, and
/// prints one table (see docs/BENCHMARKS.md). Not a test: numbers depend on the machine.
///
/// Synchronous on purpose: an `async` main parks the main thread in libdispatch's
/// `sigsuspend`, which valgrind 3.19 cannot run, and callgrind is how the hot paths are
/// profiled. Async parts run through `blocking(_:)`.
@main
struct EdgeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge-bench",
        abstract: "Benchmarks reef-edge against the physical limits of this machine and prints a table.")

    enum Part: String, CaseIterable, ExpressibleByArgument {
        case ingest, alerts, drain, footprint, notify, dashboard
    }

    @Option(help: "Runs per figure; each figure is the median, with min and max.")
    var runs = 5

    @Option(help: "Comma-separated parts to run: \(Part.allCases.map(\.rawValue).joined(separator: ",")).",
            transform: { text in
                try text.split(separator: ",").map { name in
                    guard let part = Part(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError("unknown part \(name.debugDescription); use \(Part.allCases.map(\.rawValue).joined(separator: ","))")
                    }
                    return part
                }
            })
    var only: [Part] = Part.allCases

    @Flag(help: "A smoke run: small data sets, short footprint window, no 6 048 000-reading drain.")
    var quick = false

    @Option(help: "The release edge-agent binary the footprint part runs and weighs.")
    var agent = ".build-device/release/edge-agent"

    @Option(help: "The footprint baseline, built like the agent.")
    var floor = ".build-device/release/footprint-floor"

    @Option(help: "Device profile for the footprint part; every sensor is polled at 1 Hz.")
    var footprintProfile = "device-profiles/reef-sim.yaml"

    @Option(help: ArgumentHelp("Run one ingest path once and exit, for valgrind --tool=callgrind.", visibility: .hidden))
    var profileIngest: IngestBenchmark.Path?

    func validate() throws {
        guard (1...100).contains(runs) else { throw ValidationError("--runs must be 1...100") }
    }

    func run() throws {
        let ingestReadings = quick ? 20_000 : 200_000
        if let path = profileIngest {
            let elapsed = try IngestBenchmark(readings: ingestReadings).measure(path)
            print("\(path): \(ingestReadings) readings in \(Format.number(elapsed * 1000)) ms")
            return
        }
        print(Machine.current().summary)
        print("runs per figure: \(runs)\(quick ? " (quick)" : "")")
        var figures: [Figure] = []
        var missing: [String] = []
        for part in Part.allCases where only.contains(part) {
            log("\(part.rawValue)…")
            do {
                try measure(part, ingestReadings: ingestReadings, into: &figures)
            } catch {
                // One part failing (no PostgreSQL, no agent binary) does not hide the others.
                log("\(part.rawValue) failed: \(error)")
                missing.append("\(part.rawValue): \(error)")
            }
        }
        print(Table.render(figures))
        if !missing.isEmpty {
            print("\nnot measured:\n" + missing.map { "- " + $0 }.joined(separator: "\n"))
            throw ExitCode(1)
        }
    }

    /// Appends each figure as soon as it is measured, so a later failure keeps the earlier ones.
    private func measure(_ part: Part, ingestReadings: Int, into figures: inout [Figure]) throws {
        switch part {
        case .ingest:
            figures += try IngestBenchmark(readings: ingestReadings).figures(runs: runs)
        case .footprint:
            for (binary, option) in [(agent, "--agent"), (floor, "--floor")] where !FileManager.default.isExecutableFile(atPath: binary) {
                throw BenchError("no binary at \(binary); build it with scripts/bench.sh or pass \(option)")
            }
            figures += try BinarySize(path: agent).figures()
            let scratch = try Scratch("footprint-profile")
            let profile = try FootprintBenchmark.oneHertz(footprintProfile, into: scratch.file("profile.yaml"))
            let footprint = FootprintBenchmark(
                agent: agent, floor: floor, profile: profile,
                window: quick ? .seconds(10) : .seconds(60), warmUp: quick ? .seconds(2) : .seconds(5))
            figures += try footprint.figures()
        case .drain:
            // One PostgreSQL cluster (fsync on) and one fleet server for every drain figure.
            let server = try blocking { try await ServerHarness.start(deviceName: "bench-1", durable: true) }
            defer { try? blocking { await server.shutdown() } }
            let backlogs: [DrainBenchmark.Backlog] = quick ? [.tenSeconds] : [.tenSeconds, .oneSecond]
            for backlog in backlogs {
                // The 6 048 000-reading backlog takes minutes a run: it gets at most 3.
                let runs = backlog.readings > 1_000_000 ? min(runs, 3) : runs
                figures.append(try DrainBenchmark(backlog: backlog, runs: runs).endToEndFigure(server: server))
            }
            figures.append(try DrainBenchmark(backlog: .tenSeconds, runs: runs).agentSideFigure(certificates: server.certificates))
        case .alerts:
            figures += try AlertBenchmark(crossings: quick ? 200 : 2000, runs: runs).figures()
        case .notify:
            figures += try NotifyOfflineBenchmark(hours: quick ? 6 : 24, runs: min(runs, 3)).figures()
        case .dashboard:
            figures += try DashboardBenchmark(days: quick ? 1 : 30, devices: 1_000, runs: runs).figures()
        }
    }
}

/// Runs async work on the cooperative pool while the calling thread waits.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Result<T, any Error>?>(nil)
    Task {
        let outcome: Result<T, any Error>
        do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
        result.withLock { $0 = outcome }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}

/// Progress goes to stderr so stdout is only the table.
func log(_ message: String) {
    FileHandle.standardError.write(Data(("edge-bench: " + message + "\n").utf8))
}

extension IngestBenchmark.Path: ExpressibleByArgument {}
