/// A chip captured on a device, to replay on a simulated bus: what `capture:` in a profile
/// loads. Each driver declares which form its chip is captured in (`CaptureFormat`).
public enum DeviceCapture: Sendable, Hashable {
    /// `i2cdump … b` of a chip with byte registers (BME280).
    case registerBytes(RegisterDumpDevice.Image)
    /// `i2cdump … w` or `i2cget … w` of a chip with 16-bit registers (ADS1115).
    case registerWords(RegisterWords)
    /// The command/reply transcript of an EZO circuit.
    case ezoTranscript(EZOTranscript)

    /// Parses `text` as `format`; the error says what the file should hold instead.
    public static func parse(_ text: String, as format: CaptureFormat) throws -> DeviceCapture {
        switch format {
        case .byteDump: return .registerBytes(try RegisterDumpDevice.Image(i2cdump: text))
        case .wordCapture(let required):
            let words = try RegisterWords(capture: text)
            let missing = required.filter { words.words[$0] == nil }
            guard missing.isEmpty else {
                throw CaptureFormat.MissingRegisters(registers: missing)
            }
            return .registerWords(words)
        case .ezoTranscript: return .ezoTranscript(try EZOTranscript(text: text))
        }
    }
}

/// How a chip is captured.
public enum CaptureFormat: Sendable, Hashable {
    case byteDump
    /// Word registers, of which `required` must be in the capture.
    case wordCapture(required: [UInt8])
    case ezoTranscript

    public struct MissingRegisters: Error, CustomStringConvertible {
        public var registers: [UInt8]
        public var description: String {
            "the capture lacks register(s) " + registers.map { "0x0\(String($0, radix: 16))" }.joined(separator: ", ")
                + ": capture the whole chip with 'i2cdump -y <bus> <address> w'"
        }
    }
}
