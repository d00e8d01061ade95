import EdgeCore

/// The BME280's trimming parameters (registers 0x88–0xA1 and 0xE1–0xE7).
public struct BME280Calibration: Sendable, Hashable {
    public var t1: UInt16, t2: Int16, t3: Int16
    public var p1: UInt16, p2: Int16, p3: Int16, p4: Int16, p5: Int16, p6: Int16, p7: Int16, p8: Int16, p9: Int16
    public var h1: UInt8, h2: Int16, h3: UInt8, h4: Int16, h5: Int16, h6: Int8

    public init(
        t1: UInt16, t2: Int16, t3: Int16,
        p1: UInt16, p2: Int16, p3: Int16, p4: Int16, p5: Int16, p6: Int16, p7: Int16, p8: Int16, p9: Int16,
        h1: UInt8, h2: Int16, h3: UInt8, h4: Int16, h5: Int16, h6: Int8
    ) {
        (self.t1, self.t2, self.t3) = (t1, t2, t3)
        (self.p1, self.p2, self.p3, self.p4, self.p5, self.p6, self.p7, self.p8, self.p9) = (p1, p2, p3, p4, p5, p6, p7, p8, p9)
        (self.h1, self.h2, self.h3, self.h4, self.h5, self.h6) = (h1, h2, h3, h4, h5, h6)
    }

    /// Decodes the 26 bytes from 0x88 and the 7 bytes from 0xE1. H4 and H5 are signed
    /// 12-bit values whose high bits come from the signed bytes 0xE4 and 0xE6; H3 is unsigned.
    public init(block1 a: [UInt8], block2 b: [UInt8]) {
        func u16(_ i: Int) -> UInt16 { UInt16(a[i + 1]) << 8 | UInt16(a[i]) }
        func s16(_ i: Int) -> Int16 { Int16(bitPattern: u16(i)) }
        self.init(
            t1: u16(0), t2: s16(2), t3: s16(4),
            p1: u16(6), p2: s16(8), p3: s16(10), p4: s16(12), p5: s16(14), p6: s16(16), p7: s16(18), p8: s16(20), p9: s16(22),
            h1: a[25],
            h2: Int16(bitPattern: UInt16(b[1]) << 8 | UInt16(b[0])),
            h3: b[2],
            h4: Int16(Int8(bitPattern: b[3])) * 16 | Int16(b[4] & 0x0F),
            h5: Int16(Int8(bitPattern: b[5])) * 16 | Int16(b[4] >> 4),
            h6: Int8(bitPattern: b[6])
        )
    }

    /// The datasheet's `BME280_compensate_T_int32`: returns t_fine and °C × 100.
    public func compensateTemperature(_ adcT: Int32) -> (tFine: Int32, centiCelsius: Int32) {
        let t1 = Int32(self.t1), t2 = Int32(self.t2), t3 = Int32(self.t3)
        let var1 = (((adcT >> 3) &- (t1 << 1)) &* t2) >> 11
        let d = (adcT >> 4) &- t1
        let var2 = (((d &* d) >> 12) &* t3) >> 14
        let tFine = var1 &+ var2
        return (tFine, (tFine &* 5 &+ 128) >> 8)
    }

    /// The datasheet's `BME280_compensate_P_int64`: Pa in Q24.8, nil where the datasheet returns 0
    /// (a zero P1, which only corrupt calibration has) or where corrupt values overflow the division.
    public func compensatePressure(_ adcP: Int32, tFine: Int32) -> UInt32? {
        var var1 = Int64(tFine) - 128000
        var var2 = var1 &* var1 &* Int64(p6)
        var2 = var2 &+ ((var1 &* Int64(p5)) << 17)
        var2 = var2 &+ (Int64(p4) << 35)
        var1 = ((var1 &* var1 &* Int64(p3)) >> 8) &+ ((var1 &* Int64(p2)) << 12)
        var1 = (((Int64(1) << 47) &+ var1) &* Int64(p1)) >> 33
        if var1 == 0 { return nil }
        var p = 1_048_576 - Int64(adcP)
        // Corrupt calibration can make var1 -1 against Int64.min: no value, not a trap.
        let (quotient, overflow) = (((p << 31) &- var2) &* 3125).dividedReportingOverflow(by: var1)
        if overflow { return nil }
        p = quotient
        var1 = (Int64(p9) &* (p >> 13) &* (p >> 13)) >> 25
        var2 = (Int64(p8) &* p) >> 19
        p = ((p &+ var1 &+ var2) >> 8) &+ (Int64(p7) << 4)
        return UInt32(truncatingIfNeeded: p)
    }

    /// The datasheet's `bme280_compensate_H_int32`: %RH in Q22.10.
    public func compensateHumidity(_ adcH: Int32, tFine: Int32) -> UInt32 {
        let h1 = Int32(self.h1), h2 = Int32(self.h2), h3 = Int32(self.h3)
        let h4 = Int32(self.h4), h5 = Int32(self.h5), h6 = Int32(self.h6)
        var v = tFine &- 76800
        let a = ((adcH << 14) &- (h4 << 20) &- (h5 &* v)) &+ 16384
        let b = (((((v &* h6) >> 10) &* (((v &* h3) >> 11) &+ 32768)) >> 10) &+ 2_097_152) &* h2 &+ 8192
        v = (a >> 15) &* (b >> 14)
        v = v &- (((((v >> 15) &* (v >> 15)) >> 7) &* h1) >> 4)
        v = min(max(v, 0), 419_430_400)
        return UInt32(v >> 12)
    }
}

/// A Bosch BME280 in forced mode: one measurement per read, asleep in between (no self-heating).
///
/// Compensation follows the datasheet's integer code (BST-BME280-DS002 §4.2.3 and §8.2),
/// not Bosch's SensorAPI, whose t_fine differs by one on the same input.
public struct BME280<Bus: I2CBus>: Sensor {
    public let bus: Bus
    public let address: UInt8
    public let clock: any DeviceClock
    /// Oversampling ×1 for all three: the datasheet's weather-monitoring setting.
    static var ctrlHum: UInt8 { 0x01 }
    static var ctrlMeasForced: UInt8 { 0b001_001_01 }
    /// Datasheet appendix B, maximum measurement time at ×1/×1/×1: 9.3 ms.
    static var measurementTime: Duration { .microseconds(9300) }

    /// Status reads allowed for the NVM copy after a soft reset (the datasheet's start-up takes 2 ms).
    static var nvmCopyPolls: Int { 5 }

    /// The chip's address with SDO tied to ground (0x77 with SDO high).
    public static var defaultAddress: UInt8 { 0x76 }
    public static var channels: [Channel] {
        [Channel(name: "temperature", unit: "°C"), Channel(name: "pressure", unit: "hPa"), Channel(name: "humidity", unit: "%RH")]
    }

    public init(bus: Bus, address: UInt8 = defaultAddress, clock: any DeviceClock) {
        self.bus = bus
        self.address = address
        self.clock = clock
    }

    public var channels: [Channel] { Self.channels }

    /// Checks the chip id, soft-resets, waits for the NVM copy, and reads the calibration.
    public func calibration() async throws -> BME280Calibration {
        let id = try register(0xD0, count: 1)[0]
        guard id == 0x60 else {
            throw SensorError.noDevice("chip id \(hex(id)) at \(hex(address)) is not a BME280 (0x60)"
                + (id == 0x58 ? "; 0x58 is a BMP280, which has no humidity" : ""))
        }
        try onBus { try bus.write([0xE0, 0xB6], to: address) }
        try await clock.sleep(for: .milliseconds(2))
        // im_update (bit 0) is set while the NVM copy runs: stop polling as soon as it clears,
        // and give up after five polls rather than read half-copied trimming values.
        var polls = 1
        while try register(0xF3, count: 1)[0] & 0x01 != 0 {
            guard polls < Self.nvmCopyPolls else {
                throw SensorError.stillProcessing(command: "soft reset (status im_update never cleared)", attempts: polls)
            }
            polls += 1
            try await clock.sleep(for: .milliseconds(1))
        }
        return BME280Calibration(block1: try register(0x88, count: 26), block2: try register(0xE1, count: 7))
    }

    /// Resets and re-reads the calibration on every poll (34 bytes, well under a millisecond):
    /// a chip that browned out or was swapped between polls is never compensated with stale
    /// constants or left in a half-configured mode.
    public func read() async throws -> [Measurement] {
        let cal = try await calibration()
        try onBus {
            try bus.write([0xF2, Self.ctrlHum], to: address)
            try bus.write([0xF4, Self.ctrlMeasForced], to: address)
        }
        try await clock.sleep(for: Self.measurementTime)
        var polls = 0
        while try register(0xF3, count: 1)[0] & 0x08 != 0 {
            polls += 1
            guard polls <= 10 else { throw SensorError.stillProcessing(command: "forced measurement", attempts: polls) }
            try await clock.sleep(for: .milliseconds(1))
        }
        return try Self.decode(try register(0xF7, count: 8), calibration: cal)
    }

    /// Compensates one burst read of 0xF7–0xFE. 0x80000 (T, P) and 0x8000 (H) are what the
    /// chip holds after reset or for a skipped measurement: no data, not a value.
    public static func decode(_ d: [UInt8], calibration cal: BME280Calibration) throws(SensorError) -> [Measurement] {
        let adcP = Int32(d[0]) << 12 | Int32(d[1]) << 4 | Int32(d[2]) >> 4
        let adcT = Int32(d[3]) << 12 | Int32(d[4]) << 4 | Int32(d[5]) >> 4
        let adcH = Int32(d[6]) << 8 | Int32(d[7])
        guard adcT != 0x80000, adcP != 0x80000, adcH != 0x8000 else {
            throw .noData("BME280 data registers hold their reset value: the measurement did not run")
        }
        let (tFine, centi) = cal.compensateTemperature(adcT)
        guard let pressure = cal.compensatePressure(adcP, tFine: tFine) else {
            throw .corruptResponse("BME280 calibration cannot compensate pressure (dig_P1 = 0 or corrupt trimming values)")
        }
        let humidity = cal.compensateHumidity(adcH, tFine: tFine)
        return [
            Measurement(channel: "temperature", value: Double(centi) / 100, unit: "°C"),
            Measurement(channel: "pressure", value: Double(pressure) / 256 / 100, unit: "hPa"),
            Measurement(channel: "humidity", value: Double(humidity) / 1024, unit: "%RH"),
        ]
    }

    private func register(_ start: UInt8, count: Int) throws -> [UInt8] {
        let bytes = try onBus { try bus.writeRead([start], readCount: count, at: address) }
        guard bytes.count == count else { throw SensorError.corruptResponse("read \(bytes.count) of \(count) bytes from \(hex(start))") }
        return bytes
    }
}
