import EdgeCore
import EdgeTesting
import HAL
import Testing

/// The exact bytes each driver puts on the wire, against a bus that expects them in order.
/// The simulations test the chips' physics; these pin the protocol: which transaction kind,
/// which register, which address.
@Suite struct WireTransactionTests {
    /// A reply as an EZO sends it: status 1, the ASCII payload, NUL padding to 31 bytes.
    static func ezoReply(_ payload: String) -> [UInt8] {
        let bytes = [1] + Array(payload.utf8)
        return bytes + Array(repeating: 0, count: 31 - bytes.count)
    }

    @Test func ezoReadIsAPlainWriteThenAPlainReadNeverACombinedOne() async throws {
        let bus = RecordingI2CBus(expecting: [
            .write(0x63, Array("R".utf8)),
            .read(0x63, Self.ezoReply("8.153")),
        ])
        let values = try await EZOCircuit(bus: bus, kind: .ph, clock: ManualDeviceClock()).read()
        #expect(values == [Measurement(channel: "ph", value: 8.153, unit: "pH")])
        #expect(bus.finish() == [])
        #expect(!bus.transactions.contains { if case .writeRead = $0 { true } else { false } })
    }

    @Test func ezoRetriesWithPlainReadsWhileStillProcessing() async throws {
        let bus = RecordingI2CBus(expecting: [
            .write(0x64, Array("O,?".utf8)),
            .read(0x64, Self.ezoReply("?O,EC,TDS,S,SG")),
            .write(0x64, Array("R".utf8)),
            .read(0x64, [254] + Array(repeating: 0, count: 30)),
            .read(0x64, Self.ezoReply("53000,28620,35.01,1.026")),
        ])
        let values = try await EZOCircuit(bus: bus, kind: .ec, clock: ManualDeviceClock()).read()
        #expect(values.map(\.value) == [53000, 28620, 35.01, 1.026])
        #expect(bus.finish() == [])
    }

    /// The recording bus itself: a combined write-read where a plain write was expected is
    /// refused and reported, as are the expectations left over.
    @Test func anUnexpectedCombinedWriteReadIsReported() throws {
        let bus = RecordingI2CBus(expecting: [.write(0x63, Array("R".utf8)), .read(0x63, [1, 0x37, 0])])
        #expect(throws: BusError.self) { try bus.writeRead(Array("R".utf8), readCount: 31, at: 0x63) }
        #expect(bus.finish() == [
            "transaction 1: the driver made write [0x52] then read 31 at [0x63], expected write [0x52] to [0x63]",
            "expected write [0x52] to [0x63], but the driver made no more transactions",
            "expected read 3 from [0x63] → [0x01 0x37 0x00], but the driver made no more transactions",
        ])
    }

    /// Chip id, soft reset, NVM-copy poll, both calibration blocks, forced mode, status poll,
    /// one burst read of the data registers: BST-BME280-DS002 §5 register by register.
    @Test func bme280ForcedReadRegisterByRegister() async throws {
        let block1: [UInt8] = [0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC, 0x7D, 0x8E, 0x43, 0xD6, 0xD0, 0x0B, 0x27, 0x0B, 0x8C, 0x00,
                               0xF9, 0xFF, 0x8C, 0x3C, 0xF8, 0xC6, 0x70, 0x17, 0x00, 0x4B]
        let block2: [UInt8] = [0x6A, 0x01, 0x00, 0x13, 0x09, 0x00, 0x1E]
        let bus = RecordingI2CBus(expecting: [
            .writeRead(0x76, [0xD0], reply: [0x60]),
            .write(0x76, [0xE0, 0xB6]),
            .writeRead(0x76, [0xF3], reply: [0x01]),
            .writeRead(0x76, [0xF3], reply: [0x00]),
            .writeRead(0x76, [0x88], reply: block1),
            .writeRead(0x76, [0xE1], reply: block2),
            .write(0x76, [0xF2, 0x01]),
            .write(0x76, [0xF4, 0x25]),
            .writeRead(0x76, [0xF3], reply: [0x08]),
            .writeRead(0x76, [0xF3], reply: [0x00]),
            .writeRead(0x76, [0xF7], reply: [0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x75, 0x30]),
        ])
        let values = try await BME280(bus: bus, clock: ManualDeviceClock()).read()
        #expect(values.map(\.value) == [25.08, 1006.5325390625, 55.8759765625])
        #expect(bus.finish() == [])
    }

    /// Config word, then the status register until OS reads 1, then the conversion register;
    /// all big-endian byte transfers at the default address.
    @Test func ads1115SingleShotBytes() async throws {
        let bus = RecordingI2CBus(expecting: [
            .write(0x48, [0x01, 0xC3, 0x83]),
            .writeRead(0x48, [0x01], reply: [0x43, 0x83]),
            .writeRead(0x48, [0x01], reply: [0xC3, 0x83]),
            .writeRead(0x48, [0x00], reply: [0x2E, 0xE0]),
        ])
        let values = try await ADS1115(bus: bus, clock: ManualDeviceClock()).read()
        #expect(values == [Measurement(channel: "voltage", value: 1.5, unit: "V")])
        #expect(bus.finish() == [])
    }

    /// One read of `w1_slave` per poll: the kernel runs the conversion inside it.
    @Test func ds18b20ReadsW1SlaveOncePerPoll() async throws {
        let id = "28-0316a2794bff"
        let text = "91 01 4b 46 7f ff 0f 10 25 : crc=25 YES\n91 01 4b 46 7f ff 0f 10 25 t=25062\n"
        let bus = RecordingOneWire(slaves: [id], expecting: [.init(slave: id, file: "w1_slave", text: text)])
        let values = try await OneWireThermometer(bus: bus, slave: id).read()
        #expect(values == [Measurement(channel: "temperature", value: 25.0625, unit: "°C")])
        #expect(bus.finish() == [])
    }
}
