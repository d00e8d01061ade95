import EdgeCore
import EdgeTesting
import Foundation
import HAL
import HALSimulation
import Logging
import Synchronization
import Testing

/// The EZO drivers against circuits simulated from Atlas Scientific's datasheets: processing
/// delays per circuit and command, the EC circuit's output settings (factory default: EC
/// only), the circuits' measuring ranges and the `i` reply.
@Suite struct EZODatasheetTests {
    typealias Circuit = EZOCircuit<SimulatedI2CBus>

    /// Log lines a driver wrote, as "level message key=value …" with sorted metadata.
    final class LogLines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }

        var logger: Logger {
            Logger(label: "test") { _ in Handler(box: self) }
        }

        struct Handler: LogHandler {
            let box: LogLines
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
                     file: String, function: String, line: UInt) {
                let all = metadata.merging(extra ?? [:]) { $1 }
                let text = "\(level) \(message) " + all.keys.sorted().map { "\($0)=\(all[$0]!)" }.joined(separator: " ")
                box.lines.withLock { $0.append(text) }
            }
        }
    }

    private func circuit(_ kind: EZOKind, _ value: Double, log: LogLines = LogLines())
        -> (Circuit, SimulatedEZO, SimulatedI2CBus, ManualDeviceClock) {
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus(name: "i2c-1")
        let chip = SimulatedEZO(kind: kind, scenario: Scenario(shape: .constant(value)), clock: clock)
        bus.attach(chip, at: kind.defaultAddress)
        return (EZOCircuit(bus: bus, kind: kind, clock: clock, logger: log.logger), chip, bus, clock)
    }

    @Test func factoryECCircuitGivesConductivityAndNamesEachDisabledOutputOnce() async throws {
        let log = LogLines()
        let (sensor, chip, _, _) = circuit(.ec, 53087, log: log)
        #expect(chip.enabledOutputs == ["EC"])
        #expect(try await sensor.command("O,?") == "?O,EC")
        for _ in 0..<3 {
            let got = try await sensor.read()
            #expect(got == [Measurement(channel: "conductivity", value: 53087, unit: "µS/cm")])
        }
        #expect(log.all == [
            "notice EC output disabled on the circuit; enable it with the command address=0x64 channel=tds command=O,TDS,1",
            "notice EC output disabled on the circuit; enable it with the command address=0x64 channel=salinity command=O,S,1",
            "notice EC output disabled on the circuit; enable it with the command address=0x64 channel=specific_gravity command=O,SG,1",
        ])
    }

    /// Outputs switched on behind the driver's back: the reply no longer fits, the driver says
    /// so once, asks `O,?` again and maps the new fields.
    @Test func outputsAreLearntAgainAfterAnError() async throws {
        let (sensor, chip, bus, clock) = circuit(.ec, 53087)
        #expect(try await sensor.read().map(\.value) == [53087])
        try bus.write(Array("O,S,1".utf8), to: 0x64)
        clock.advance(by: .milliseconds(300))
        #expect(try bus.read(count: 2, from: 0x64) == [1, 0])
        #expect(chip.enabledOutputs == ["EC", "S"])
        await #expect(throws: SensorError.corruptResponse("'53087.0,35.00' has 2 values, the circuit's enabled outputs are conductivity; "
            + "the outputs are asked again (O,?)")) { _ = try await sensor.read() }
        let got = try await sensor.read()
        #expect(got == [Measurement(channel: "conductivity", value: 53087, unit: "µS/cm"),
                        Measurement(channel: "salinity", value: 35, unit: "ppt")])
        _ = try await sensor.command("O,EC,0")
        _ = try await sensor.command("O,S,0")
        await #expect(throws: SensorError.corruptResponse("'' has 1 values, the circuit's enabled outputs are conductivity, salinity; "
            + "the outputs are asked again (O,?)")) { _ = try await sensor.read() }
        await #expect(throws: SensorError.noData("every output is disabled on the EC circuit at 0x64: enable EC with O,EC,1")) {
            _ = try await sensor.read()
        }
    }

    /// Datasheet processing delays, per circuit: the driver waits exactly these and the circuit
    /// never had to answer 254; one millisecond earlier the circuit still answers 254.
    @Test func eachCommandWaitsItsCircuitsDatasheetDelay() async throws {
        let cases: [(EZOKind, String, Int64)] = [
            (.ph, "R", 900), (.ph, "RT,25.0", 900), (.ph, "Cal,mid,7.00", 900), (.ph, "i", 300), (.ph, "T,25.0", 300), (.ph, "Cal,?", 300), (.ph, "Cal,clear", 300),
            (.orp, "R", 900), (.orp, "Cal,225", 900), (.orp, "i", 300),
            (.ec, "R", 600), (.ec, "RT,25.0", 600), (.ec, "Cal,dry", 600), (.ec, "Cal,low,12880", 600), (.ec, "Cal,?", 300), (.ec, "O,?", 300), (.ec, "T,25.0", 300),
            (.dissolvedOxygen, "R", 600), (.dissolvedOxygen, "Cal", 1300), (.dissolvedOxygen, "Cal,0", 1300), (.dissolvedOxygen, "i", 300),
            (.rtd, "R", 600), (.rtd, "Cal,100.0", 600), (.rtd, "i", 300),
        ]
        for (kind, command, millis) in cases {
            let value = kind == .ec ? 1413.0 : kind == .orp ? 225 : 7
            let (sensor, chip, bus, clock) = circuit(kind, value)
            let start = clock.now()
            _ = try await sensor.command(command)
            #expect(clock.elapsed(since: start) == .milliseconds(millis), "\(kind) \(command)")
            #expect(chip.busyReplies == 0, "\(kind) \(command)")

            try bus.write(Array(command.utf8), to: kind.defaultAddress)
            clock.advance(by: .milliseconds(millis - 1))
            #expect(try bus.read(count: 1, from: kind.defaultAddress) == [254], "\(kind) \(command) is still processing")
            clock.advance(by: .milliseconds(1))
            #expect(try bus.read(count: 1, from: kind.defaultAddress) == [1], "\(kind) \(command) is done")
        }
    }

    @Test func valuesOutsideTheCircuitsRangeAreErrors() async throws {
        let cases: [(EZOKind, Double, String)] = [
            (.ph, 14.5, "14.5 pH is outside the EZO ph circuit's range 0.001…14.0: check the probe and its calibration"),
            (.ph, 0, "0.0 pH is outside the EZO ph circuit's range 0.001…14.0: check the probe and its calibration"),
            (.orp, 1020, "1020.0 mV is outside the EZO orp circuit's range -1019.9…1019.9: check the probe and its calibration"),
            (.ec, 0.04, "0.0 µS/cm is outside the EZO ec circuit's range 0.07…500000.0: check the probe and its calibration"),
            (.ec, 500_001, "500001.0 µS/cm is outside the EZO ec circuit's range 0.07…500000.0: check the probe and its calibration"),
            (.dissolvedOxygen, 100.5, "100.5 mg/L is outside the EZO dissolvedOxygen circuit's range 0.0…100.0: check the probe and its calibration"),
            (.rtd, 1300, "1300.0 °C is outside the EZO rtd circuit's range -126.0…1254.0: check the probe and its calibration"),
            (.rtd, -130, "-130.0 °C is outside the EZO rtd circuit's range -126.0…1254.0: check the probe and its calibration"),
        ]
        for (kind, value, message) in cases {
            let (sensor, _, _, _) = circuit(kind, value)
            await #expect(throws: SensorError.outOfRange(message), "\(kind) \(value)") { _ = try await sensor.read() }
        }
        for (kind, value) in [(EZOKind.ph, 0.001), (.ph, 14), (.orp, -1019.9), (.ec, 500_000), (.dissolvedOxygen, 0), (.rtd, -126), (.rtd, 1254)] {
            let (sensor, _, _, _) = circuit(kind, value)
            #expect(try await sensor.read()[0].value == value, "\(kind) \(value) is in range")
        }
        let (rtd, chip, _, _) = circuit(.rtd, 25)
        chip.setProbeOpen(true)
        await #expect(throws: SensorError.disconnected("EZO-RTD reports -1023: no probe attached")) { _ = try await rtd.read() }
    }

    @Test func infoAnswersAsTheCircuitDoes() async throws {
        for (kind, reply) in [(EZOKind.ph, "?I,pH,2.16"), (.orp, "?I,ORP,2.16"), (.ec, "?I,EC,2.16"), (.dissolvedOxygen, "?I,DO,2.16"), (.rtd, "?I,RTD,2.16")] {
            let (sensor, _, _, _) = circuit(kind, 7)
            #expect(try await sensor.info() == reply)
        }
    }
}
