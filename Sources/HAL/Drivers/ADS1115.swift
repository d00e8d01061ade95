import EdgeCore

/// A TI ADS1115 16-bit ADC in single-shot mode.
///
/// Registers are big-endian on the wire (SMBus word calls would swap them), so this driver
/// uses plain byte transfers.
public struct ADS1115<Bus: I2CBus>: Sensor {
    public typealias Input = ADS1115Input
    public typealias FullScale = ADS1115FullScale
    public typealias DataRate = ADS1115DataRate

    /// The chip's address with ADDR tied to ground.
    public static var defaultAddress: UInt8 { 0x48 }
    public static var channels: [Channel] { [Channel(name: "voltage", unit: "V")] }

    public let bus: Bus
    public let address: UInt8
    public let input: Input
    public let fullScale: FullScale
    public let dataRate: DataRate
    public let clock: any DeviceClock

    public init(
        bus: Bus, address: UInt8 = defaultAddress, input: Input = .ain0, fullScale: FullScale = .v4_096,
        dataRate: DataRate = .sps128, clock: any DeviceClock
    ) {
        self.bus = bus
        self.address = address
        self.input = input
        self.fullScale = fullScale
        self.dataRate = dataRate
        self.clock = clock
    }

    public var channels: [Channel] { Self.channels }

    /// OS=1 (start), MUX, PGA, MODE=1 (single-shot), DR, comparator disabled (QUE=11).
    public var config: UInt16 {
        0x8000 | input.rawValue << 12 | fullScale.rawValue << 9 | 0x0100 | dataRate.rawValue << 5 | 0x0003
    }

    public func read() async throws -> [Measurement] {
        try onBus { try bus.write([0x01, UInt8(config >> 8), UInt8(config & 0xFF)], to: address) }
        try await clock.sleep(for: dataRate.conversionTime)
        var polls = 0
        while try register(0x01) & 0x8000 == 0 {
            polls += 1
            guard polls <= 10 else { throw SensorError.stillProcessing(command: "conversion", attempts: polls) }
            try await clock.sleep(for: dataRate.conversionTime / 8)
        }
        let code = Int16(bitPattern: try register(0x00))
        return [Measurement(channel: "voltage", value: try Self.volts(code: code, fullScale: fullScale), unit: "V")]
    }

    /// volts = code × FS / 32768. The end codes mean the input was clipped.
    public static func volts(code: Int16, fullScale: FullScale) throws(SensorError) -> Double {
        if code == .max || code == .min { throw .saturated(code: code) }
        return Double(code) * fullScale.volts / 32768
    }

    private func register(_ pointer: UInt8) throws -> UInt16 {
        let bytes = try onBus { try bus.writeRead([pointer], readCount: 2, at: address) }
        guard bytes.count == 2 else { throw SensorError.corruptResponse("ADS1115 register read returned \(bytes.count) bytes") }
        return UInt16(bytes[0]) << 8 | UInt16(bytes[1])
    }
}

/// The input multiplexer (config bits 14:12).
public enum ADS1115Input: UInt16, Sendable, Hashable {
    case ain0MinusAin1 = 0, ain0MinusAin3, ain1MinusAin3, ain2MinusAin3
    case ain0, ain1, ain2, ain3

    /// AIN0…AIN3 against ground, by input number.
    public static let singleEnded: [ADS1115Input] = [.ain0, .ain1, .ain2, .ain3]
}

/// The programmable gain, named by its full-scale voltage (config bits 11:9).
public enum ADS1115FullScale: UInt16, Sendable, Hashable, CaseIterable {
    case v6_144 = 0, v4_096, v2_048, v1_024, v0_512, v0_256

    public var volts: Double { [6.144, 4.096, 2.048, 1.024, 0.512, 0.256][Int(rawValue)] }

    /// The range whose full scale is nearest to `volts` (a profile may write 5 or 3.3).
    public static func nearest(volts: Double) -> ADS1115FullScale {
        allCases.dropFirst().reduce(v6_144) { abs($1.volts - volts) < abs($0.volts - volts) ? $1 : $0 }
    }
}

/// Samples per second (config bits 7:5).
public enum ADS1115DataRate: UInt16, Sendable, Hashable {
    case sps8 = 0, sps16, sps32, sps64, sps128, sps250, sps475, sps860

    public var samplesPerSecond: Int64 { [8, 16, 32, 64, 128, 250, 475, 860][Int(rawValue)] }
    /// One conversion takes one sample period.
    public var conversionTime: Duration { .nanoseconds(1_000_000_000 / samplesPerSecond) }
}
