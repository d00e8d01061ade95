@testable import AlertEngine
import Testing

/// The rule machine as a table: each row is one observation at a time, and the phase and the
/// steps it must produce. No database, clock or engine: the machine is pure.
@Suite struct RuleMachineTableTests {
    enum Input: Sendable {
        case value(Double)
        case error(String)
        /// Only time passes (a tick, or a sample that is no evidence).
        case time
    }

    struct Row: Sendable {
        /// Seconds after the first row.
        var at: Int64
        var input: Input
        var phase: Phase
        var steps: [Transition.Kind]
        init(_ at: Int64, _ input: Input, _ phase: Phase, _ steps: [Transition.Kind] = []) {
            (self.at, self.input, self.phase, self.steps) = (at, input, phase, steps)
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var rule: AlertRule
        var rows: [Row]
        var testDescription: String { name }
    }

    static let start = Instant(wall: 1_767_225_600_000, mono: 10_000)

    static let cases: [Case] = [
        Case(name: "threshold with deadband",
             rule: AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: 27.5)),
             rows: [
                Row(0, .value(28.0), .inactive),
                Row(1, .value(28.1), .firing, [.fired]),
                Row(2, .value(27.9), .firing),
                Row(3, .value(27.5), .firing),
                Row(4, .value(27.4), .inactive, [.resolved]),
                Row(5, .value(27.9), .inactive),
                Row(6, .time, .inactive),
             ]),
        Case(name: "band with clear margin",
             rule: AlertRule(id: "ph", sensorID: "ph", condition: .band(low: 7.8, high: 8.4, clearMargin: 0.05)),
             rows: [
                Row(0, .value(8.45), .firing, [.fired]),
                Row(60, .value(8.38), .firing),
                Row(120, .value(8.34), .inactive, [.resolved]),
                Row(180, .value(7.7), .firing, [.fired]),
                Row(240, .value(7.84), .firing),
                Row(300, .value(7.86), .inactive, [.resolved]),
             ]),
        Case(name: "stale, and a sensor error",
             rule: AlertRule(id: "probe", sensorID: "t", condition: .stale(after: .seconds(300))),
             rows: [
                Row(0, .value(25), .inactive),
                Row(299, .time, .inactive),
                Row(300, .time, .firing, [.fired]),
                Row(360, .time, .firing),
                Row(361, .value(25), .inactive, [.resolved]),
                Row(362, .error("CRC"), .firing, [.fired]),
                Row(363, .error("CRC"), .firing),
                Row(364, .value(25), .inactive, [.resolved]),
             ]),
        Case(name: "rate of change, falling",
             rule: AlertRule(id: "crash", sensorID: "ph", condition: .rateOfChange(limit: -0.2, window: .seconds(3600))),
             rows: [
                Row(0, .value(8.2), .inactive),
                Row(600, .value(7.9), .firing, [.fired]),
                Row(3599, .value(7.9), .firing),
                Row(3601, .value(7.9), .inactive, [.resolved]),
             ]),
        Case(name: "switch with for:",
             rule: AlertRule(id: "leak", sensorID: "leak", condition: .switchState(active: true), holdFor: .seconds(10)),
             rows: [
                Row(0, .value(1), .pending, [.pending]),
                Row(5, .value(0), .inactive, [.cleared]),
                Row(6, .value(1), .pending, [.pending]),
                Row(15, .time, .pending),
                Row(16, .time, .firing, [.fired]),
                Row(17, .value(0), .inactive, [.resolved]),
             ]),
        Case(name: "for: debounces a threshold",
             rule: AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil),
                             holdFor: .seconds(60)),
             rows: [
                Row(0, .value(28.5), .pending, [.pending]),
                Row(30, .value(27.9), .inactive, [.cleared]),
                Row(40, .value(28.5), .pending, [.pending]),
                Row(99, .value(28.6), .pending),
                Row(100, .time, .firing, [.fired]),
                Row(110, .value(27), .inactive, [.resolved]),
             ]),
        Case(name: "flapping is reported once and ends when stable",
             rule: AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil),
                             flapping: .init(changes: 2, window: .seconds(60))),
             rows: [
                Row(0, .value(29), .firing, [.fired]),
                Row(10, .value(27), .inactive, [.resolved]),
                Row(20, .value(29), .firing, [.flapping]),
                Row(30, .value(27), .inactive, [.followed]),
                Row(40, .value(29), .firing, [.followed]),
                Row(99, .time, .firing),
                Row(100, .time, .firing, [.flappingEnded, .fired]),
                Row(110, .value(27), .inactive, [.resolved]),
             ]),
    ]

    @Test(arguments: cases)
    func machineFollowsTheTable(_ table: Case) {
        var machine = RuleMachine(rule: table.rule, at: Self.start)
        for row in table.rows {
            let now = Instant(wall: Self.start.wall + row.at * 1000, mono: Self.start.mono + row.at * 1000)
            let observation: Observation = switch row.input {
            case .value(let v): .value(v, unit: "u", takenAt: now.wall)
            case .error(let reason): .error(reason)
            case .time: .time
            }
            let steps = machine.observe(observation, at: now)
            #expect(steps.map(\.kind) == row.steps, "at \(row.at) s")
            #expect(machine.phase == row.phase, "at \(row.at) s")
        }
    }

    @Test func stepsCarryTheEpisodeTheyBelongTo() {
        let rule = AlertRule(id: "hot", sensorID: "t", condition: .threshold(op: .greater, value: 28, clear: nil))
        var machine = RuleMachine(rule: rule, at: Self.start)
        let later = Instant(wall: Self.start.wall + 5000, mono: Self.start.mono + 5000)
        #expect(machine.observe(.value(29, unit: "°C", takenAt: Self.start.wall), at: Self.start)
            == [Transition(kind: .fired, activeSince: Self.start.wall)])
        #expect(machine.observe(.value(27, unit: "°C", takenAt: later.wall), at: later)
            == [Transition(kind: .resolved, activeSince: Self.start.wall)])
        #expect(machine.firedAt == nil)
        #expect(machine.lastValue == 27)
        #expect(machine.unit == "°C")
    }
}
