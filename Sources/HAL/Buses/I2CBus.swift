/// An I2C bus, addressed per 7-bit device address.
///
/// Synchronous: a transfer is a few hundred microseconds of ioctl. Drivers wait chip
/// delays on the injected clock between calls, never inside them. Throws `BusError`.
public protocol I2CBus: Sendable {
    /// One write transaction (start, address+W, bytes, stop).
    func write(_ bytes: [UInt8], to address: UInt8) throws
    /// One read transaction of exactly `count` bytes.
    func read(count: Int, from address: UInt8) throws -> [UInt8]
    /// A write then a read joined by a repeated start: how register chips are read.
    func writeRead(_ bytes: [UInt8], readCount: Int, at address: UInt8) throws -> [UInt8]
}
