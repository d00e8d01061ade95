import EdgeCore
import HAL
import Synchronization

/// A chip replayed from an `i2cdump` byte capture, so a field problem reproduces on a desk.
///
/// Register-pointer semantics: a write sets the pointer and stores bytes; reads continue from
/// the pointer. Registers dumped as `XX` (unreadable) fail with an I/O error, as on the chip;
/// cells a ranged dump (`-r 0x88-0xfe`) left blank were not captured and fail saying so.
public final class RegisterDumpDevice: SimulatedI2CDevice {
    public enum ParseError: Error, Hashable, CustomStringConvertible {
        case badRow(line: Int, text: String)
        case noRows
        case tooLarge(bytes: Int)
        /// A word dump (`i2cdump … w`) where a byte dump was needed.
        case wordDump

        public var description: String {
            switch self {
            case .badRow(let line, let text): "line \(line) is not an i2cdump row ('00: xx xx … xx', 16 bytes, XX or blank): \(text)"
            case .noRows: "no i2cdump rows found: paste the output of 'i2cdump -y <bus> <address> b'"
            case .tooLarge(let bytes): "\(bytes) bytes is not one i2cdump (at most 16 KiB): capture a single chip"
            case .wordDump: "this is a word dump (i2cdump … w); this chip's registers are bytes: capture with 'i2cdump -y <bus> <address> b'"
            }
        }
    }

    /// The registers as dumped: what each cell held, which read `XX`, which were left out.
    public struct Image: Sendable, Hashable {
        public var bytes = [UInt8](repeating: 0, count: 256)
        public var unreadable = Set<UInt8>()
        public var uncaptured = Set<UInt8>()

        /// Parses i2c-tools `i2cdump` byte-mode output: a header line, then rows `00:` … `f0:`
        /// of 16 three-character cells (`xx `, `XX `, or blank outside a `-r` range).
        public init(i2cdump text: String) throws(ParseError) {
            // A full dump is about 1.3 KB; anything far larger is not one.
            guard text.utf8.count <= 16_384 else { throw .tooLarge(bytes: text.utf8.count) }
            uncaptured = Set(0...255)
            var rows = 0
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let chars = Array(line.utf8)
                if rows == 0, line.contains("0,8") { throw .wordDump }
                guard chars.count >= 3, chars[2] == UInt8(ascii: ":"),
                      let base = UInt8(String(decoding: chars[0..<2], as: UTF8.self), radix: 16) else { continue }
                guard base % 16 == 0 else { throw .badRow(line: number + 1, text: String(line)) }
                for i in 0..<16 {
                    let start = 4 + 3 * i
                    let cell = start + 2 <= chars.count ? String(decoding: chars[start..<start + 2], as: UTF8.self) : ""
                    let register = base + UInt8(i)
                    if cell.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                    uncaptured.remove(register)
                    if cell == "XX" {
                        unreadable.insert(register)
                    } else if let byte = UInt8(cell, radix: 16), cell.count == 2, !cell.contains(" ") {
                        bytes[Int(register)] = byte
                    } else {
                        throw .badRow(line: number + 1, text: String(line))
                    }
                }
                rows += 1
            }
            guard rows > 0 else { throw .noRows }
        }

        var registerFile: RegisterFile {
            var file = RegisterFile()
            file.bytes = bytes
            file.unreadable = unreadable
            file.uncaptured = uncaptured
            return file
        }
    }

    private let registers: Mutex<RegisterFile>

    public convenience init(i2cdump text: String) throws {
        self.init(image: try Image(i2cdump: text))
    }

    public init(image: Image) {
        registers = Mutex(image.registerFile)
    }

    public func receive(_ bytes: [UInt8]) throws {
        registers.withLock { $0.receive(bytes) { file, register, value in file.bytes[Int(register)] = value } }
    }

    public func transmit(count: Int) throws -> [UInt8] {
        try registers.withLock { try $0.transmit(count: count) }
    }
}
