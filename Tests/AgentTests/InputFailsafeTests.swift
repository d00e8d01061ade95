import Foundation
import HAL
import HALSimulation
import Profiles
import Testing
@testable import edge_agent
import EdgeCore
import EdgeTesting

/// Issue 11: `edge-agent failsafe` must work on any profile that names its outputs, however
/// broken the rest is — here sensors that are not even valid YAML, and a broken agent.yaml.
@Suite struct InputFailsafeTests {
    static let profile = """
    name: half-broken
    buses:
      - { id: gpio, kind: gpio, simulated: true }
    sensors:
      - id: [unclosed
        driver: ds18b20: : :
      interval: 1e400s
    outputs:
      - { id: heater_relay, bus: gpio, line: GPIO5, normal: on, fail_safe: off }
      - { id: return_pump, bus: gpio, line: GPIO6, normal: off, fail_safe: on, active_low: true }
      - { id: ghost, bus: nowhere, line: GPIO7, normal: on, fail_safe: off }
    alerts: 12
    """

    func write(_ text: String, _ name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("failsafe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func outputsReachTheirFailSafeStateWhateverTheRestOfTheProfileIs() throws {
        let path = try write(Self.profile, "profile.yaml")
        #expect(throws: ProfileErrors.self) { try DeviceProfile.load(path: path) }
        let read = try DeviceProfile.loadOutputs(path: path)
        #expect(read.outputs.map(\.id) == ["heater_relay", "return_pump", "ghost"])
        #expect(read.problems.map(\.description) == ["\(path):11:23: outputs[2].bus: 'nowhere' is not a declared gpio bus; declared: gpio"])
        let (outputs, chips) = BoardBuilder(clock: ManualDeviceClock()).failSafeOutputs(read.outputs, buses: read.buses)
        #expect(outputs.map(\.id) == ["heater_relay", "return_pump", "ghost"])
        for (_, result) in outputs.prefix(2) { let output = try result.get(); try output.line.set(output.failSafe) }
        #expect(throws: BoardError.self) { try outputs[2].result.get() }
        let chip = try #require(chips["gpio"] as? SimulatedGPIOChip)
        #expect(chip.outputState(offset: 0) == false) // heater off
        #expect(chip.outputState(offset: 1) == true) // return pump on
    }

    @Test func theCommandSetsEveryOutputItCanAndSaysWhichItCannot() throws {
        let path = try write(Self.profile.replacingOccurrences(of: "  - { id: ghost, bus: nowhere, line: GPIO7, normal: on, fail_safe: off }\n", with: ""), "profile.yaml")
        let config = try write("profile: \(path)\nretention:\n  max_age: 99999999999999999999d\n", "agent.yaml")
        let run = try AgentBinary.run(["failsafe"], environment: ["EDGE_AGENT_CONFIG": config])
        #expect(run.status == 0)
        #expect(run.stdout == "heater_relay: off\nreturn_pump: on\n")
        #expect(run.stderr == "warning: \(config):3:12: retention.max_age: '99999999999999999999d' is not a duration in 1h...3650d; write e.g. 500ms, 10s, 5m, 2h or 7d\n")

        let ghost = try AgentBinary.run(["failsafe", "--profile", try write(Self.profile, "ghost.yaml")], environment: ["EDGE_AGENT_CONFIG": config])
        #expect(ghost.status == 1)
        #expect(ghost.stdout == "heater_relay: off\nreturn_pump: on\n")
        #expect(ghost.stderr.contains("outputs[2].bus: 'nowhere' is not a declared gpio bus"))
    }
}
