@testable import AlertEngine
import Testing

/// The output arbiter as a table: where the outputs were driven and where the rules stand,
/// in; the switches to make and why, out. No GPIO: the arbiter only decides.
@Suite struct OutputArbiterTests {
    static let rules = [
        AlertRule(id: "leak", sensorID: "sump_leak", condition: .switchState(active: true),
                  action: .init(output: "ato_pump", state: false)),
        AlertRule(id: "ato_high", sensorID: "ato_high_float", condition: .switchState(active: true),
                  action: .init(output: "ato_pump", state: false)),
        AlertRule(id: "tank_hot", sensorID: "tank_temp", condition: .threshold(op: .greater, value: 28, clear: nil),
                  action: .init(output: "heater", state: false)),
        AlertRule(id: "tank_cold", sensorID: "tank_temp", condition: .threshold(op: .less, value: 24, clear: nil),
                  action: .init(output: "heater", state: true)),
    ]
    static let policies = ["ato_pump": OutputPolicy(normal: true, failSafe: false), "lights": OutputPolicy(normal: false, failSafe: false)]

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var driven: [String: Bool]
        /// Rules (by index) that fire or flap, and those of them that flap.
        var holding: Set<Int> = []
        var flapping: Set<Int> = []
        var changed: [Int] = []
        var reported: Set<Int> = []
        var switches: [String]
        var testDescription: String { name }
    }

    static let all: [String: Bool] = ["ato_pump": true, "heater": true, "lights": false]

    static let rows: [Row] = [
        Row(name: "start-up drives every output to normal; an undeclared one rests opposite its action",
            driven: [:], switches: ["ato_pump on (start-up)", "heater on (start-up)", "lights off (start-up)"]),
        Row(name: "nothing changes: nothing is switched", driven: all, switches: []),
        Row(name: "a firing rule takes its output", driven: all, holding: [0], changed: [0], reported: [0],
            switches: ["ato_pump off (rule leak fired)"]),
        Row(name: "one of two holders resolves: the output stays held",
            driven: all.merging(["ato_pump": false]) { $1 }, holding: [1], changed: [0], reported: [0], switches: []),
        Row(name: "the last holder resolves: back to normal",
            driven: all.merging(["ato_pump": false]) { $1 }, changed: [1], reported: [1],
            switches: ["ato_pump on (rule ato_high resolved)"]),
        Row(name: "a flapping rule holds its output", driven: all, holding: [2], flapping: [2], changed: [2],
            switches: ["heater off (rule tank_hot flapping)"]),
        Row(name: "flapping ends without a report: released",
            driven: all.merging(["heater": false]) { $1 }, changed: [2], switches: ["heater on (rule tank_hot released)"]),
        Row(name: "two rules disagree: the first in the profile wins",
            driven: all, holding: [2, 3], changed: [3], reported: [3], switches: ["heater off (rule tank_hot fired)"]),
    ]

    @Test(arguments: rows)
    func arbiterFollowsTheTable(_ row: Row) {
        var arbiter = OutputArbiter(rules: Self.rules, policies: Self.policies)
        for (output, on) in row.driven {
            _ = arbiter.settle(Actuation(output: output, on: on, rule: nil, reason: "setup"), error: nil, at: 0)
        }
        let standings = Self.rules.indices.map { Standing(holds: row.holding.contains($0), flapping: row.flapping.contains($0)) }
        let plan = arbiter.plan(standings, changed: row.changed, reported: row.reported)
        #expect(plan.map { "\($0.output) \($0.on ? "on" : "off") (\($0.reason))" } == row.switches)
    }

    struct Busy: Error, CustomStringConvertible { var description: String { "gpio line busy" } }

    @Test func aFailingSwitchIsRecordedOnceUntilItWorks() throws {
        var arbiter = OutputArbiter(rules: Self.rules, policies: Self.policies)
        let off = Actuation(output: "heater", on: false, rule: 2, reason: "rule tank_hot fired")
        let first = arbiter.settle(off, error: Busy(), at: 7)
        let failed = try #require(first)
        #expect(failed.kind == .actuated)
        #expect(failed.ruleID == "tank_hot")
        #expect(failed.value == nil)
        #expect(failed.message == "could not switch heater off (rule tank_hot fired): gpio line busy")
        let again = arbiter.settle(off, error: Busy(), at: 8)
        #expect(again == nil)
        #expect(arbiter.driven["heater"] == nil)
        let retried = arbiter.settle(off, error: nil, at: 9)
        let worked = try #require(retried)
        #expect(worked.message == "heater off (rule tank_hot fired)")
        #expect(worked.value == 0)
        #expect(arbiter.driven["heater"] == false)
        let failedAfterWorking = arbiter.settle(off, error: Busy(), at: 10)
        #expect(failedAfterWorking?.timestampMillis == 10)
    }

    @Test func failSafeCoversTheDeclaredOutputsOnly() {
        let arbiter = OutputArbiter(rules: Self.rules, policies: Self.policies)
        #expect(arbiter.failSafePlan == [
            Actuation(output: "ato_pump", on: false, rule: nil, reason: "fail-safe"),
            Actuation(output: "lights", on: false, rule: nil, reason: "fail-safe"),
        ])
    }
}
