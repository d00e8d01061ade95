import EdgeTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Simulated and replayed chips through the real `edge-agent` binary: what a keeper sees
/// from `run --once` and `readings dump` on a profile whose buses are simulations.
@Suite(.serialized) struct ReplayTests {
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory("replay") }

    func write(_ name: String, _ text: String) throws -> String {
        let path = directory.file(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A factory-state EC circuit (EC output only, firmware 2.10 and later) gives EC readings
    /// through the daemon: stored, dumped, and its disabled outputs named once in the log.
    @Test func factoryStateECCircuitGivesConductivityThroughTheDaemon() async throws {
        let profile = try write("ec.yaml", """
        name: ec
        buses:
          - { id: i2c, kind: i2c, simulated: true }
        sensors:
          - { id: salinity, driver: ezo_ec, bus: i2c, interval: 700ms, simulation: { conductivity: { constant: 53087 } } }
        """)
        let data = directory.file("data")
        let daemon = try Daemon(arguments: ["run", "--profile", profile, "--data-dir", data],
                                environment: ["EDGE_AGENT_CONFIG": "", "NOTIFY_SOCKET": ""], logURL: directory.url.appendingPathComponent("agent.log"))
        func dump() throws -> [[String: Any]] {
            let out = try AgentBinary.run(["readings", "dump", "--data-dir", data, "--format", "json"])
            return (try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]]) ?? []
        }
        let enough = try await Daemon.eventually(timeout: .seconds(30)) { try dump().count >= 3 }
        #expect(enough, "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.log)")

        let rows = try dump()
        #expect(Set(rows.compactMap { $0["sensor"] as? String }) == ["salinity.conductivity"])
        #expect(Set(rows.compactMap { $0["value"] as? Double }) == [53087])
        let notices = daemon.log.split(separator: "\n").filter { $0.contains("EC output disabled on the circuit") }
        #expect(notices.count == 3, "\(daemon.log)")
        #expect(notices.contains { $0.contains("O,S,1") }, "\(notices)")
    }

    @Test func onceShowsTheFactoryECReading() throws {
        let profile = try write("ec.yaml", """
        name: ec
        buses:
          - { id: i2c, kind: i2c, simulated: true }
        sensors:
          - { id: salinity, driver: ezo_ec, bus: i2c, simulation: { conductivity: { constant: 53087 } } }
        """)
        let out = try AgentBinary.run(["run", "--once", "--profile", profile], environment: ["EDGE_AGENT_CONFIG": ""])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("salinity.conductivity  53087.000  µS/cm"), "\(out.stdout)")
    }
}
