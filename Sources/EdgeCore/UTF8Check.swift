import Foundation

/// Where a file stops being UTF-8, so "not UTF-8" errors can point at the byte.
public enum UTF8Check {
    /// The 1-based line and the 0-based byte offset of the first byte that is not part of a
    /// valid UTF-8 sequence, or nil when all of `data` is valid.
    public static func firstInvalid(_ data: Data) -> (line: Int, offset: Int) {
        var line = 1
        var index = data.startIndex
        while index < data.endIndex {
            let byte = data[index]
            let length: Int = switch byte {
            case 0x00...0x7F: 1
            case 0xC2...0xDF: 2
            case 0xE0...0xEF: 3
            case 0xF0...0xF4: 4
            default: 0
            }
            let end = index + length
            guard length > 0, end <= data.endIndex, String(validating: data[index..<end], as: UTF8.self) != nil else {
                return (line, index - data.startIndex)
            }
            if byte == 0x0A { line += 1 }
            index = end
        }
        return (line, data.count)
    }
}
