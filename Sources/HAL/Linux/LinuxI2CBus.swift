#if os(Linux)
import CI2C
import Glibc

/// `/dev/i2c-N` through the I2C_RDWR ioctl: one ioctl per transaction, so a write-read is a
/// true repeated start and no other process's transfer can come between its halves.
public final class LinuxI2CBus: I2CBus {
    public let path: String
    private let fd: Int32

    public init(bus number: Int) throws {
        path = "/dev/i2c-\(number)"
        fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw BusError.opening(path, errno: errno, group: "i2c",
                enableHint: "enable I2C with dtparam=i2c_arm=on in /boot/firmware/config.txt (or raspi-config) and reboot")
        }
    }

    deinit { close(fd) }

    public func write(_ bytes: [UInt8], to address: UInt8) throws {
        var out = bytes
        try out.withUnsafeMutableBufferPointer { buffer in
            var messages = [i2c_msg(addr: UInt16(address), flags: 0, len: UInt16(clamping: buffer.count), buf: buffer.baseAddress)]
            try transfer(&messages, address: address)
        }
    }

    public func read(count: Int, from address: UInt8) throws -> [UInt8] {
        var input = [UInt8](repeating: 0, count: max(0, count))
        try input.withUnsafeMutableBufferPointer { buffer in
            var messages = [i2c_msg(addr: UInt16(address), flags: UInt16(I2C_M_RD), len: UInt16(clamping: count), buf: buffer.baseAddress)]
            try transfer(&messages, address: address)
        }
        return input
    }

    public func writeRead(_ bytes: [UInt8], readCount: Int, at address: UInt8) throws -> [UInt8] {
        var out = bytes
        var input = [UInt8](repeating: 0, count: max(0, readCount))
        try out.withUnsafeMutableBufferPointer { outBuffer in
            try input.withUnsafeMutableBufferPointer { inBuffer in
                var messages = [
                    i2c_msg(addr: UInt16(address), flags: 0, len: UInt16(clamping: outBuffer.count), buf: outBuffer.baseAddress),
                    i2c_msg(addr: UInt16(address), flags: UInt16(I2C_M_RD), len: UInt16(clamping: readCount), buf: inBuffer.baseAddress),
                ]
                try transfer(&messages, address: address)
            }
        }
        return input
    }

    private func transfer(_ messages: inout [i2c_msg], address: UInt8) throws {
        // i2c-dev refuses messages over 8192 bytes; no chip here needs more than 32.
        guard messages.allSatisfy({ $0.len <= 8192 }), address < 0x80 else {
            throw BusError.io("i2c-\(path.dropFirst(9)) address \(hex(address)): transfer over 8192 bytes or address above 0x7f", errno: EINVAL)
        }
        let count = UInt32(messages.count)
        let result = messages.withUnsafeMutableBufferPointer { reef_i2c_rdwr(fd, $0.baseAddress, count) }
        guard result >= 0 else { throw BusError.i2cTransfer(bus: "i2c-\(path.dropFirst(9))", address: address, errno: errno) }
    }
}
#endif
