import HAL
import Synchronization

/// A chip replayed from an `i2cdump` capture, so a field problem reproduces on a desk.
///
/// Register-pointer semantics: a write sets the pointer and stores bytes; reads continue from
/// the pointer. Registers dumped as `XX` (unreadable) fail with an I/O error, as on the chip.
public final class RegisterDumpDevice: SimulatedI2CDevice {
    public enum ParseError: Error, Hashable, CustomStringConvertible {
        case badRow(line: Int, text: String)
        case noRows
        case tooLarge(bytes: Int)

        public var description: String {
            switch self {
            case .badRow(let line, let text): "line \(line) is not an i2cdump row ('00: xx xx … xx', 16 bytes or XX): \(text)"
            case .noRows: "no i2cdump rows found: paste the output of 'i2cdump -y <bus> <address> b'"
            case .tooLarge(let bytes): "\(bytes) bytes is not one i2cdump (at most 16 KiB): capture a single chip"
            }
        }
    }

    private let registers: Mutex<RegisterFile>

    /// Parses i2c-tools `i2cdump` output (header line, then `00:` … `f0:` rows of 16 bytes).
    public init(i2cdump text: String) throws {
        // A full dump is about 1.3 KB; anything far larger is not one.
        guard text.utf8.count <= 16_384 else { throw ParseError.tooLarge(bytes: text.utf8.count) }
        var file = RegisterFile()
        var rows = 0
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let head = fields.first, head.count == 3, head.hasSuffix(":"),
                  let base = UInt8(head.dropLast(), radix: 16) else { continue }
            guard base % 16 == 0, fields.count >= 17 else { throw ParseError.badRow(line: number + 1, text: String(line)) }
            for (i, token) in fields[1...16].enumerated() {
                let register = base + UInt8(i)
                if token.uppercased() == "XX" {
                    file.unreadable.insert(register)
                } else if token.count == 2, let byte = UInt8(token, radix: 16) {
                    file.bytes[Int(register)] = byte
                } else {
                    throw ParseError.badRow(line: number + 1, text: String(line))
                }
            }
            rows += 1
        }
        guard rows > 0 else { throw ParseError.noRows }
        registers = Mutex(file)
    }

    public func receive(_ bytes: [UInt8]) throws {
        registers.withLock { $0.receive(bytes) { file, register, value in file.bytes[Int(register)] = value } }
    }

    public func transmit(count: Int) throws -> [UInt8] {
        try registers.withLock { try $0.transmit(count: count) }
    }
}
