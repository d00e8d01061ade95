/// Names that end up in a file path (1-Wire slave ids, sysfs file names, chip names):
/// checked where a profile is read and again where a bus builds the path, so `../../x` can
/// never reach outside the bus's directory.
public enum DeviceNames {
    /// The kernel's w1 slave id: family code, dash, 48-bit serial, all lowercase hex
    /// (`28-0316a2794bff`), as `w1_master_slaves` lists them.
    public static func isOneWireSlave(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 15, bytes[2] == UInt8(ascii: "-") else { return false }
        return bytes.enumerated().allSatisfy { index, byte in index == 2 || isLowerHex(byte) }
    }

    /// A single path component made of letters, digits, `_`, `-` and `.` that is not `.` or
    /// `..`: a sysfs file name, a GPIO chip name or label.
    public static func isPlainName(_ text: String, maxBytes: Int = 64) -> Bool {
        guard !text.isEmpty, text.utf8.count <= maxBytes, text != ".", text != ".." else { return false }
        return text.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
    }

    /// An absolute path with no `.` or `..` component and nothing but plain names between slashes.
    public static func isAbsolutePath(_ text: String, maxBytes: Int = 255) -> Bool {
        guard text.hasPrefix("/"), text.utf8.count <= maxBytes else { return false }
        return text.split(separator: "/").allSatisfy { isPlainName(String($0)) }
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
    }
}
