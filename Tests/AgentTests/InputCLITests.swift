import ArgumentParser
import Foundation
import Testing
@testable import edge_agent

/// Issue 11: a number too big for its type on the command line is a usage error naming the
/// option and the allowed range, before anything is opened; never a trap.
@Suite struct InputCLITests {
    @Test(arguments: [
        (["alerts", "silence", "heater", "--for", "9223372036854775807s"],
         "Error: --for: '9223372036854775807s' is not a duration in 1m...365d; write e.g. 500ms, 10s, 5m, 2h or 7d"),
        (["alerts", "silence", "heater", "--for", "400d"], "Error: --for: '400d' is out of range; allowed: 1m...365d"),
        (["maintenance", "--until", "99999999999w"],
         "Error: --until: '99999999999w' is neither a duration (2h, 30m, 7d; at most 3650d) nor an ISO 8601 time (2026-11-22T10:00:00Z)"),
        (["alerts", "history", "--limit", "18446744073709551616"], "Error: --limit: '18446744073709551616' is not a whole number in 1...100000"),
        (["alerts", "history", "--limit=-1"], "Error: --limit: '-1' is not a whole number in 1...100000"),
    ])
    func hugeOptionValuesAreUsageErrors(arguments: [String], message: String) throws {
        let run = try AgentBinary.run(arguments + ["--data-dir", "/nonexistent"], environment: ["EDGE_AGENT_CONFIG": ""])
        #expect(run.status == 64)
        #expect(run.stderr.hasPrefix(message + "\n"))
    }

    @Test func momentsWithCheckedArithmetic() throws {
        let now: Int64 = 1_767_225_600_000 // 2026-01-01T00:00:00Z
        #expect(try MomentArgument(argument: "2h").millis("--until", now: now, .ahead) == now + 7_200_000)
        #expect(try MomentArgument(argument: "2h").millis("--since", now: now, .ago) == now - 7_200_000)
        #expect(try MomentArgument(argument: "2025-12-31").millis("--since", now: now, .ago) == now - 86_400_000)
        #expect(try MomentArgument(argument: "now").millis("--until", now: now, .ahead) == now)
        #expect(throws: ValidationError.self) { try MomentArgument(argument: "3650d").millis("--since", now: 0, .ago) }
        #expect(throws: ValidationError.self) { try MomentArgument(argument: "1h").millis("--until", now: .max, .ahead) }
        #expect(try DurationArgument(argument: "90m").value("--for", in: .zero ... .seconds(86_400)) == .seconds(5_400))
        #expect(try CountArgument(argument: "0x10").value("--limit", in: 1...100) == 16)
    }

    /// Every command that reads agent.yaml used to trap on a number too big for its type.
    @Test(arguments: [["status"], ["sensors"], ["alerts"], ["readings", "dump"], ["sync", "--once"], ["check-config"], ["run", "--once"]])
    func aHugeNumberInAgentYamlIsAnErrorForEveryCommand(command: [String]) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID().uuidString).yaml").path
        try "retention:\n  max_age: 99999999999999999999d\n  disk_budget: 9223372036854775808GB\n".write(toFile: path, atomically: true, encoding: .utf8)
        let run = try AgentBinary.run(command + ["--config", path])
        #expect(run.status == (command == ["check-config"] ? 78 : 1), "\(run.stderr)")
        #expect(run.stderr.contains("\(path):2:12: retention.max_age: '99999999999999999999d' is not a duration in 1h...3650d"), "\(run.stderr)")
        #expect(run.stderr.contains("\(path):3:16: retention.disk_budget: '9223372036854775808GB' is not a size in 1MB...1000GB"), "\(run.stderr)")
    }
}
