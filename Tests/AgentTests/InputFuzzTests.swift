import EdgeCore
import EdgeTesting
import Foundation
import HAL
import Profiles
import Testing
@testable import edge_agent

/// Issue 11's fuzz target, as a seeded mutation test: thousands of mutated profiles and
/// agent.yaml files (lines deleted, duplicated, swapped; values replaced by overflowing,
/// non-finite, huge, unicode and YAML-syntax edge values; truncation) through the loaders.
/// Each must load or fail with errors that all name their line — and a trap fails the whole
/// run. Every profile that loads is checked for non-finite numbers and over-long text, and a
/// share of them is built on simulated hardware and polled, so accepted means safe to run.
@Suite struct InputFuzzTests {
    struct Mutator {
        var random: SeededRandom

        mutating func below(_ n: Int) -> Int { Int(random.next() % UInt64(max(1, n))) }

        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

        mutating func mutate(_ text: String) -> String {
            var lines = text.components(separatedBy: "\n")
            for _ in 0...below(3) where !lines.isEmpty {
                let i = below(lines.count), j = below(lines.count)
                switch below(9) {
                case 0: lines.remove(at: i)
                case 1: lines.insert(lines[i], at: i)
                case 2: lines.swapAt(i, j)
                case 3, 4: lines[i] = replaceValue(in: lines[i], with: pick(InputFuzzCorpus.edgeValues))
                case 5: lines[i] = replaceValue(in: lines[i], with: value(of: lines[j]))
                case 6:
                    var characters = Array(lines[i])
                    characters.insert(pick(["🐠", "\u{202E}", "é", "\t", ":", "-", "[", "\"", "'"]), at: below(characters.count + 1))
                    lines[i] = String(characters)
                case 7: lines[i] = below(2) == 0 ? "  " + lines[i] : String(lines[i].dropFirst(2))
                default:
                    if let digits = lines[i].firstRange(of: /[0-9]+(\.[0-9]+)?/) {
                        lines[i].replaceSubrange(digits, with: pick(InputFuzzCorpus.edgeValues))
                    }
                }
            }
            let joined = lines.joined(separator: "\n")
            return below(10) == 0 ? String(joined.prefix(below(joined.count + 1))) : joined
        }

        /// Replaces the value after one of the line's `: ` (up to the next `,`, `}` or `]`).
        mutating func replaceValue(in line: String, with value: String) -> String {
            let colons = line.ranges(of: ": ")
            guard !colons.isEmpty else { return line }
            let start = colons[below(colons.count)].upperBound
            let end = line[start...].firstIndex { ",}]".contains($0) } ?? line.endIndex
            return String(line[..<start]) + value + String(line[end...])
        }

        func value(of line: String) -> String {
            guard let colon = line.range(of: ": ") else { return line }
            return String(line[colon.upperBound...])
        }
    }

    static let seeds: [String] = ["reef-sim.yaml", "reef-pi.yaml"].map {
        (try? String(contentsOf: AgentBinary.repository.appendingPathComponent("device-profiles/\($0)"), encoding: .utf8)) ?? ""
    } + InputFuzzCorpus.profiles

    @Test func everySeedLoads() throws {
        for seed in Self.seeds { _ = try DeviceProfile.parse(yaml: seed, file: "seed.yaml") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("seed-\(UUID().uuidString).yaml").path
        for seed in InputFuzzCorpus.configs {
            try seed.write(toFile: path, atomically: false, encoding: .utf8)
            let (config, errors) = AgentConfig.resolve(path: path, environment: [:])
            #expect(errors.isEmpty && config.sync.problems.isEmpty, "\(errors) \(config.sync.problems)")
        }
    }

    @Test func mutatedProfilesLoadOrSayWhereTheyAreWrong() async throws {
        var mutator = Mutator(random: SeededRandom(seed: 11))
        var (loaded, rejected, polled) = (0, 0, 0)
        let outputsPath = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString).yaml").path
        for round in 0..<2_000 {
            let text = mutator.mutate(mutator.pick(Self.seeds))
            do {
                let profile = try DeviceProfile.parse(yaml: text, file: "fuzz.yaml")
                loaded += 1
                Self.expectSafe(profile, text)
                if loaded % 8 == 0, profile.buses.allSatisfy(\.simulated) {
                    await Self.poll(profile)
                    polled += 1
                }
            } catch {
                rejected += 1
                for problem in error.errors { #expect(problem.line != nil, "\(problem)\n---\n\(text)") }
            }
            if round % 5 == 0 {
                try text.write(toFile: outputsPath, atomically: false, encoding: .utf8)
                if let outputs = try? DeviceProfile.loadOutputs(path: outputsPath) {
                    for problem in outputs.problems { #expect(problem.line != nil, "\(problem)") }
                }
            }
        }
        // Both outcomes must be common, or the mutations are too weak or too strong to test anything.
        #expect(loaded > 250, "loaded \(loaded)")
        #expect(rejected > 800, "rejected \(rejected)")
        #expect(polled > 20, "polled \(polled)")
    }

    @Test func mutatedAgentConfigsLoadOrSayWhereTheyAreWrong() throws {
        var mutator = Mutator(random: SeededRandom(seed: 78))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-agent-\(UUID().uuidString).yaml").path
        var (clean, broken) = (0, 0)
        for _ in 0..<1_500 {
            let text = mutator.mutate(mutator.pick(InputFuzzCorpus.configs))
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            let (config, errors) = AgentConfig.resolve(path: path, environment: [:])
            for error in errors { #expect(error.line != nil, "\(error)\n---\n\(text)") }
            for problem in config.sync.problems { #expect(problem.hasPrefix(path + ":"), "\(problem)") }
            #expect(!config.sync.problems.joined().contains("secret"))
            if errors.isEmpty && config.sync.problems.isEmpty { clean += 1 } else { broken += 1 }
        }
        #expect(clean > 100 && broken > 300, "clean \(clean), broken \(broken)")
    }

    /// No NaN or infinity, no text beyond the profile limits, no negative or endless duration
    /// anywhere in what the loader accepted.
    static func expectSafe(_ profile: DeviceProfile, _ text: String) {
        func walk(_ value: Any, _ path: String) {
            switch value {
            case let number as Double: #expect(number.isFinite, "\(path) = \(number)\n---\n\(text)")
            case let string as String: #expect(string.utf8.count <= ProfileLimits.textBytes, "\(path)")
            case let duration as Duration: #expect(duration >= .zero && duration <= DurationText.maximum, "\(path) = \(duration)")
            default: for child in Mirror(reflecting: value).children { walk(child.value, path + "." + (child.label ?? "?")) }
            }
        }
        walk(profile, "profile")
        for sensor in profile.sensors {
            for channel in sensor.channels {
                #expect(sensor.readingID(channel.name).utf8.count <= ProfileLimits.idBytes)
                #expect(channel.unit.utf8.count <= ProfileLimits.unitBytes)
            }
        }
    }

    /// Builds the board on simulated hardware and reads every sensor twice, the clock moved
    /// by each sensor's interval: errors are fine, traps and hangs are not.
    static func poll(_ profile: DeviceProfile) async {
        let clock = ManualDeviceClock()
        guard let board = try? BoardBuilder(clock: clock).build(profile) else { return }
        for sensor in board.sensors {
            for _ in 0..<2 {
                if let measurements = try? await sensor.sensor.read() {
                    for m in measurements { #expect(m.value.isFinite, "\(sensor.id).\(m.channel) = \(m.value)") }
                }
                clock.advance(by: sensor.interval)
            }
        }
    }
}
