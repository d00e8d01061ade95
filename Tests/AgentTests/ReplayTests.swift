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

    /// The agent with no config file of its own, as a keeper runs it on a laptop.
    func agent(_ arguments: [String]) throws -> Command.Output {
        try AgentBinary.run(arguments, environment: ["EDGE_AGENT_CONFIG": ""])
    }

    /// `edge-agent run --once --profile PROFILE`.
    func once(_ profile: String) throws -> Command.Output { try agent(["run", "--once", "--profile", profile]) }

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
        let out = try once(profile)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("salinity.conductivity  53087.000  µS/cm"), "\(out.stdout)")
    }
}

/// A simulated EC circuit whose outputs a keeper switched on (`outputs:` in its simulation).
extension ReplayTests {
    /// The default profile's salinity rule watches `salinity.salinity`: its circuit has the S
    /// output on, so the reading exists (35 ppt from 53 087 µS/cm at 25 °C, PSS-78).
    @Test func theDefaultProfileReadsSalinity() throws {
        let out = try once(AgentBinary.repository.appendingPathComponent("device-profiles/reef-sim.yaml").path)
        #expect(out.status == 0, "\(out.stderr)")
        let lines = out.stdout.split(separator: "\n").filter { $0.hasPrefix("salinity.") }.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(lines.map { String($0[0]) } == ["salinity.conductivity", "salinity.salinity"], "\(out.stdout)")
        let salinity = try #require(lines.last.flatMap { Double($0[1]) })
        #expect(abs(salinity - 35.0) < 0.05, "\(out.stdout)")
    }

    @Test func outputsChooseTheSimulatedCircuitsFields() throws {
        let profile = try write("ec-outputs.yaml", """
        name: ec
        buses:
          - { id: i2c, kind: i2c, simulated: true }
        sensors:
          - { id: salinity, driver: ezo_ec, bus: i2c, simulation: { conductivity: { constant: 53087 }, outputs: [TDS, SG] } }
        """)
        let out = try once(profile)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout == """
            sensor                     value      unit  error
            salinity.tds               28667.000  ppm   -
            salinity.specific_gravity  1.026      SG    -

            """)
    }
}

/// The examples in device-profiles/examples and `edge-agent capture` through the binary.
extension ReplayTests {
    @Test func theExampleCapturesReplayWithRunOnce() throws {
        let profile = AgentBinary.repository.appendingPathComponent("device-profiles/examples/replay.yaml").path
        let out = try once(profile)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout == """
            sensor            value     unit  error
            room.temperature  25.080    °C    -
            room.pressure     1006.533  hPa   -
            room.humidity     55.876    %RH   -
            probe_volts       1.500     V     -
            ph                8.153     pH    -

            """)
    }

    /// A mid-conversion ranged dump next to its profile, and a byte dump of an ADS1115, refused.
    @Test func aMidConversionCaptureReplaysAndAWrongFormatIsRefused() throws {
        let example = try String(contentsOf: AgentBinary.repository.appendingPathComponent("device-profiles/examples/bme280.i2cdump"), encoding: .utf8)
        let measuring = example.replacingOccurrences(of: "f0: ff ff 01 00 24", with: "f0: ff ff 01 08 24")
        #expect(measuring != example)
        _ = try write("measuring.i2cdump", measuring)
        _ = try write("bytes.i2cdump", example)
        let profile = try write("p.yaml", """
        name: p
        buses:
          - { id: i2c, kind: i2c, simulated: true }
        sensors:
          - { id: room, driver: bme280, bus: i2c, capture: measuring.i2cdump }
        """)
        let out = try once(profile)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("room.temperature  25.080    °C"), "\(out.stdout)")

        let wrong = try write("wrong.yaml", """
        name: wrong
        buses:
          - { id: i2c, kind: i2c, simulated: true }
        sensors:
          - { id: volts, driver: ads1115, bus: i2c, capture: bytes.i2cdump }
        """)
        let outside = try write("outside.yaml", """
        name: outside
        buses:
          - { id: i2c, kind: i2c, simulated: true }
        sensors:
          - { id: a, driver: bme280, bus: i2c, capture: ../../etc/passwd }
          - { id: b, driver: bme280, bus: i2c, capture: /etc/passwd }
        """)
        let escaped = try agent(["check-config", outside])
        #expect(escaped.status == 78)
        #expect(escaped.stderr.contains("sensors[0].capture: '../../etc/passwd' is not a file beside the profile"), "\(escaped.stderr)")
        #expect(escaped.stderr.contains("sensors[1].capture: '/etc/passwd' is not a file beside the profile"), "\(escaped.stderr)")
        #expect(!escaped.stderr.contains("root:"))

        let refused = try agent(["check-config", wrong])
        #expect(refused.status != 0)
        #expect((refused.stdout + refused.stderr).contains("sensors[0].capture: \(directory.file("bytes.i2cdump")): this is a byte dump (i2cdump … b), "
            + "which holds only the first byte of each 16-bit register"), "\(refused.stdout)\(refused.stderr)")
    }

    /// Capture a (simulated) chip with the CLI, replay the file: the same readings.
    @Test func captureThenReplayGivesTheSameReadings() throws {
        let original = try write("original.yaml", """
        name: original
        buses:
          - { id: i2c, kind: i2c, simulated: true }
        sensors:
          - { id: room, driver: bme280, bus: i2c,
              simulation: { temperature: { constant: 24.37 }, pressure: { constant: 1013.25 }, humidity: { constant: 61.2 } } }
          - { id: volts, driver: ads1115, bus: i2c, simulation: { voltage: { constant: 2.5 } } }
          - { id: salinity, driver: ezo_ec, bus: i2c, simulation: { conductivity: { constant: 53087 } } }
        """)
        for sensor in ["room", "volts", "salinity"] {
            let out = try agent(["capture", sensor, "--profile", original, "--out", directory.file("\(sensor).capture")])
            #expect(out.status == 0, "\(out.stderr)")
        }
        let transcript = try String(contentsOfFile: directory.file("salinity.capture"), encoding: .utf8)
        #expect(transcript.contains("> O,?\n< 1 ?O,EC\n> R\n< 1 53087.0\n"), "\(transcript)")
        let replay = try write("replay.yaml", """
        name: replay
        buses:
          - { id: i2c, kind: i2c, simulated: true }
        sensors:
          - { id: room, driver: bme280, bus: i2c, capture: room.capture }
          - { id: volts, driver: ads1115, bus: i2c, capture: volts.capture }
          - { id: salinity, driver: ezo_ec, bus: i2c, capture: salinity.capture }
        """)
        let before = try once(original)
        let after = try once(replay)
        #expect(after.status == 0, "\(after.stderr)")
        #expect(after.stdout == before.stdout)
        #expect(after.stdout.contains("volts                  2.500"), "\(after.stdout)")
    }

    /// A w1 bus pointed at a copy of the kernel's directory replays it.
    @Test func aCopiedW1DirectoryReplays() throws {
        let id = "28-0316a2794bff"
        try FileManager.default.createDirectory(atPath: directory.file("w1/\(id)"), withIntermediateDirectories: true)
        _ = try write("w1/\(id)/w1_slave", "91 01 4b 46 7f ff 0f 10 25 : crc=25 YES\n91 01 4b 46 7f ff 0f 10 25 t=25062\n")
        let profile = try write("w1.yaml", """
        name: w1
        buses:
          - { id: w1, kind: w1, device: \(directory.file("w1")) }
        sensors:
          - { id: tank, driver: ds18b20, bus: w1, slave: \(id) }
        """)
        let out = try once(profile)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("tank    25.062  °C"), "\(out.stdout)")
    }
}
