/// 16-bit registers captured with `i2cdump -y <bus> <address> w` or `i2cget -y <bus> <address>
/// <register> w`, for chips whose registers are words (the ADS1115).
///
/// Both tools read SMBus words, which put the first byte on the wire in the low half: a
/// big-endian chip's register 0x2EE0 prints as `e02e`. The capture is swapped back here, so
/// `words[0]` is the register as the chip holds it. A byte dump of such a chip holds only each
/// register's first byte and is refused.
public struct RegisterWords: Sendable, Hashable {
    /// Register value by pointer, as the chip holds it (big-endian on the wire).
    public var words: [UInt8: UInt16]

    public init(words: [UInt8: UInt16]) { self.words = words }

    public enum ParseError: Error, Hashable, CustomStringConvertible {
        case byteDump
        case badLine(line: Int, text: String)
        case noWords
        case tooLarge(bytes: Int)

        public var description: String {
            switch self {
            case .byteDump:
                "this is a byte dump (i2cdump … b), which holds only the first byte of each 16-bit register: "
                    + "capture with 'i2cdump -y <bus> <address> w' or 'i2cget -y <bus> <address> <register> w'"
            case .badLine(let line, let text): "line \(line) is neither an i2cdump word row ('00: xxxx xxxx …') nor an i2cget word (0xxxxx): \(text)"
            case .noWords: "no words found: paste 'i2cdump -y <bus> <address> w', or 'i2cget … w' commands each followed by its output"
            case .tooLarge(let bytes): "\(bytes) bytes is not one chip's capture (at most 16 KiB)"
            }
        }
    }

    /// Parses an `i2cdump … w` dump (rows of eight words, `XXXX` or blank cells skipped) or
    /// `i2cget … <register> w` command lines each followed by the `0xnnnn` it printed.
    public init(capture text: String) throws(ParseError) {
        guard text.utf8.count <= 16_384 else { throw .tooLarge(bytes: text.utf8.count) }
        words = [:]
        var pendingRegister: UInt8?
        var header = true
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if header, trimmed.hasPrefix("0  1  2  3") { throw .byteDump }
            if trimmed.isEmpty { continue }
            let tokens = trimmed.split(separator: " ").map(String.init)
            if let i2cget = tokens.firstIndex(where: { $0.hasSuffix("i2cget") }) {
                // i2cget [-y] [-f] BUS ADDRESS REGISTER w
                let arguments = tokens[(i2cget + 1)...].filter { !$0.hasPrefix("-") }
                guard arguments.count == 4, arguments[3] == "w", let register = Self.number(arguments[2]) else {
                    throw .badLine(line: number + 1, text: String(line))
                }
                pendingRegister = UInt8(truncatingIfNeeded: register)
                continue
            }
            if trimmed.hasPrefix("#") { continue }
            if let register = pendingRegister {
                guard tokens.count == 1, tokens[0].hasPrefix("0x"), tokens[0].count == 6, let value = Self.number(tokens[0]) else {
                    throw .badLine(line: number + 1, text: String(line))
                }
                words[register] = Self.swapped(UInt16(value))
                pendingRegister = nil
                continue
            }
            let chars = Array(line.utf8)
            guard chars.count >= 3, chars[2] == UInt8(ascii: ":"),
                  let base = UInt8(String(decoding: chars[0..<2], as: UTF8.self), radix: 16) else {
                if trimmed.contains("0,8") { header = false; continue }
                throw .badLine(line: number + 1, text: String(line))
            }
            header = false
            guard base % 8 == 0 else { throw .badLine(line: number + 1, text: String(line)) }
            for i in 0..<8 {
                let start = 4 + 5 * i
                let cell = start + 4 <= chars.count ? String(decoding: chars[start..<start + 4], as: UTF8.self) : ""
                if cell.trimmingCharacters(in: .whitespaces).isEmpty || cell == "XXXX" { continue }
                guard let value = UInt16(cell, radix: 16) else { throw .badLine(line: number + 1, text: String(line)) }
                words[base + UInt8(i)] = Self.swapped(value)
            }
        }
        guard !words.isEmpty else { throw .noWords }
    }

    private static func number(_ text: String) -> Int? {
        text.hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
    }

    private static func swapped(_ word: UInt16) -> UInt16 { word << 8 | word >> 8 }
}
