import EdgeCore
import EdgeTesting
import Foundation
import HAL
import HALSimulation
import Testing

/// Chips replayed from captures through the production drivers: the BME280 from byte dumps
/// (whole, ranged, mid-conversion), the ADS1115 from word captures only, EZO circuits from the
/// transcript `edge-agent capture` writes, and a copied w1 devices directory.
@Suite struct ReplayDeviceTests {
    static func example(_ name: String) throws -> String {
        try String(contentsOf: Built.repository.appendingPathComponent("device-profiles/examples/\(name)"), encoding: .utf8)
    }

    /// The example capture holds the datasheet's worked example: its compensated values exactly.
    @Test func bme280ExampleReplaysTheDatasheetsCompensatedValues() async throws {
        let clock = ManualDeviceClock()
        let bus = SimulatedI2CBus()
        bus.attach(ReplayedBME280(image: try RegisterDumpDevice.Image(i2cdump: try Self.example("bme280.i2cdump")), clock: clock), at: 0x76)
        let values = try await BME280(bus: bus, clock: clock).read()
        #expect(values.map(\.value) == [25.08, 1006.5325390625, 55.8759765625])
    }

    /// `i2cdump -y 1 0x76 b -r 0x88-0xfe` taken while the chip was measuring: blank cells,
    /// status bit 3 set. The bit reads clear once the measurement time has passed.
    @Test func aRangedDumpTakenMidConversionReplays() async throws {
        var lines = try Self.example("bme280.i2cdump").split(separator: "\n").map(String.init)
        lines = lines.compactMap { line in
            guard let base = Int(line.prefix(2), radix: 16), line.dropFirst(2).hasPrefix(":") else { return line }
            if base < 0x80 { return nil }
            var chars = Array(line)
            if base == 0x80 { for i in 0..<8 { chars.replaceSubrange((4 + 3 * i)..<(6 + 3 * i), with: "  ") } }
            if base == 0xF0 {
                chars.replaceSubrange((4 + 3 * 3)..<(6 + 3 * 3), with: "08") // status: measuring
                chars.replaceSubrange((4 + 3 * 15)..<(6 + 3 * 15), with: "  ") // 0xff is past the range
            }
            return String(chars)
        }
        let dump = lines.joined(separator: "\n")
        #expect(dump.contains("80:                         70 6b 43 67 18 fc 7d 8e"))
        let image = try RegisterDumpDevice.Image(i2cdump: dump)
        #expect(image.uncaptured == Set((0..<0x88).map(UInt8.init) + [0xFF]))

        let clock = ManualDeviceClock()
        let chip = ReplayedBME280(image: image, clock: clock)
        try chip.receive([0xF3])
        #expect(try chip.transmit(count: 1) == [0x08], "measuring, as captured")
        clock.advance(by: .microseconds(7999))
        try chip.receive([0xF3])
        #expect(try chip.transmit(count: 1) == [0x08])
        clock.advance(by: .microseconds(1))
        try chip.receive([0xF3])
        #expect(try chip.transmit(count: 1) == [0x00], "×1 T, P and H: 1 + 2 + 2.5 + 2.5 ms, datasheet appendix B")
        try chip.receive([0x10])
        #expect(throws: BusError.io("register 0x10, which the capture does not hold (dump a range that includes it)", errno: 5)) {
            try chip.transmit(count: 1)
        }

        let bus = SimulatedI2CBus()
        bus.attach(ReplayedBME280(image: image, clock: clock), at: 0x76)
        #expect(try await BME280(bus: bus, clock: clock).read().map(\.value) == [25.08, 1006.5325390625, 55.8759765625])
    }

    @Test func ads1115WordCapturesReplayAndByteDumpsAreRefused() async throws {
        let clock = ManualDeviceClock()
        let words = try RegisterWords(capture: try Self.example("ads1115.i2cdump"))
        #expect(words.words[0] == 0x2EE0 && words.words[1] == 0xC383 && words.words[2] == 0x8000 && words.words[3] == 0x7FFF)
        let bus = SimulatedI2CBus()
        bus.attach(try SimulatedADS1115(replaying: words, clock: clock), at: 0x48)
        #expect(try await ADS1115(bus: bus, clock: clock).read().map(\.value) == [1.5])

        let i2cget = """
        $ i2cget -y 1 0x48 0x00 w
        0xe02e
        $ i2cget -y 1 0x48 0x01 w
        0x8343
        """
        let got = try RegisterWords(capture: i2cget)
        #expect(got.words == [0: 0x2EE0, 1: 0x4383])
        // Captured mid-conversion (OS = 0): the result appears one sample period (1/128 s) later.
        let converting = SimulatedADS1115Probe(try SimulatedADS1115(replaying: got, clock: clock))
        #expect(try converting.config() == 0x4383)
        clock.advance(by: .nanoseconds(1_000_000_000 / 128))
        #expect(try converting.config() == 0xC383)

        let byteDump = """
             0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f    0123456789abcdef
        00: 2e 83 80 7f 2e 83 80 7f 2e 83 80 7f 2e 83 80 7f    .?.?.?.?.?.?.?.?
        """
        #expect(throws: RegisterWords.ParseError.byteDump) { try RegisterWords(capture: byteDump) }
        #expect(throws: RegisterDumpDevice.ParseError.wordDump) { try RegisterDumpDevice.Image(i2cdump: try Self.example("ads1115.i2cdump")) }
    }

    struct SimulatedADS1115Probe {
        let chip: SimulatedADS1115
        init(_ chip: SimulatedADS1115) { self.chip = chip }
        func config() throws -> UInt16 {
            try chip.receive([0x01])
            let bytes = try chip.transmit(count: 2)
            return UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        }
    }

    @Test func ezoTranscriptReplaysItsRepliesInOrderAfterTheDatasheetDelay() async throws {
        let clock = ManualDeviceClock()
        let transcript = try EZOTranscript(text: try Self.example("ezo-ph.transcript"))
        let bus = SimulatedI2CBus()
        let chip = SimulatedEZO(kind: .ph, replaying: transcript, clock: clock)
        bus.attach(chip, at: 0x63)
        let circuit = EZOCircuit(bus: bus, kind: .ph, clock: clock)
        var values: [Double] = []
        for _ in 0..<4 { values.append(try await circuit.read()[0].value) }
        #expect(values == [8.153, 8.151, 8.152, 8.152], "the last reply repeats")
        #expect(chip.busyReplies == 0)
        #expect(try await circuit.command("Slope,?") == "?Slope,99.7,100.3,-0.89")
        #expect(try await circuit.info() == "?I,pH,2.16")
        await #expect(throws: SensorError.syntaxError(command: "Status")) { _ = try await circuit.command("Status") }
        #expect(transcript.render(header: ["edge-agent capture: sensor ph (ezo_ph at 0x63 on bus i2c, /dev/i2c-1)"])
            == (try Self.example("ezo-ph.transcript")))
        #expect(throws: EZOTranscript.ParseError.badLine(line: 2, text: "< 9 8.1")) { try EZOTranscript(text: "> R\n< 9 8.1\n") }
    }

    /// A copy of /sys/bus/w1/devices without its bus masters: the slave directories are the slaves.
    @Test func aCopiedW1DirectoryListsAndReadsItsSlaves() async throws {
        let directory = try TemporaryDirectory("w1-copy")
        for (id, celsius) in [("28-0316a2794bff", 25.0625), ("10-000802b4b1c3", 24.5)] {
            try FileManager.default.createDirectory(atPath: directory.file(id), withIntermediateDirectories: true)
            let family = UInt8(id.prefix(2), radix: 16)!
            try SimulatedOneWire.kernelText(celsius: celsius, fault: nil, family: family).w1Slave
                .write(toFile: directory.file(id) + "/w1_slave", atomically: true, encoding: .utf8)
        }
        let bus = SysfsOneWire(root: directory.path)
        #expect(try await bus.slaves() == ["10-000802b4b1c3", "28-0316a2794bff"])
        #expect(try await OneWireThermometer(bus: bus, slave: "28-0316a2794bff").read()[0].value == 25.0625)
        #expect(try await OneWireThermometer(bus: bus, slave: "10-000802b4b1c3").read()[0].value == 24.5)
    }
}
