import EdgeCore
import HAL
import Synchronization

/// A BME280's register map: chip id, calibration NVM, control registers, forced-mode
/// measurements that take the datasheet's time, and data registers that read
/// 0x80000/0x8000 after reset until a measurement completes.
///
/// The scenarios' physical values are encoded into raw ADC counts by searching the
/// datasheet compensation for the closest count: the driver then reads temperature within
/// 0.005 °C, pressure within 0.002 hPa and humidity within 0.002 %RH of the scenario.
public final class SimulatedBME280: SimulatedI2CDevice {
    /// Calibration of a real chip: T and P words from the BMP280 datasheet's worked example
    /// (§3.12), humidity words as read from a BME280 breakout.
    public static let referenceCalibration = BME280Calibration(
        t1: 27504, t2: 26435, t3: -1000,
        p1: 36477, p2: -10685, p3: 3024, p4: 2855, p5: 140, p6: -7, p7: 15500, p8: -14600, p9: 6000,
        h1: 75, h2: 362, h3: 0, h4: 313, h5: 0, h6: 30
    )

    fileprivate struct State {
        var registers = RegisterFile()
        var measurementDone: UInt64?
        /// When the NVM copy after a reset ends (im_update, status bit 0, reads set until then).
        var nvmCopyDone: UInt64 = 0
        /// Fault injection: the NVM copy never finishes.
        var nvmCopyStuck = false
    }

    /// Datasheet table 1: start-up time, during which the trimming values are copied from NVM.
    static let startupNanos: UInt64 = 2_000_000

    public let temperature: Scenario
    public let pressure: Scenario
    public let humidity: Scenario
    public let calibration: BME280Calibration
    private let clock: any DeviceClock
    private let start: DeviceTime
    private let state: Mutex<State>

    /// - Parameters: temperature in °C, pressure in hPa, humidity in %RH.
    public init(
        temperature: Scenario, pressure: Scenario, humidity: Scenario,
        calibration: BME280Calibration = SimulatedBME280.referenceCalibration, clock: any DeviceClock
    ) {
        self.temperature = temperature
        self.pressure = pressure
        self.humidity = humidity
        self.calibration = calibration
        self.clock = clock
        self.start = clock.now()
        self.state = Mutex(State(registers: Self.powerOnRegisters(calibration)))
    }

    public var isAnswering: Bool {
        let elapsed = clock.elapsed(since: start)
        return !temperature.isDroppedOut(at: elapsed)
    }

    public func receive(_ bytes: [UInt8]) throws {
        let now = clock.now().bootNanos
        state.withLock { s in
            s.settle(now: now, encode: encode)
            var startMeasurement = false
            var reset = false
            s.registers.receive(bytes) { file, register, value in
                switch register {
                case 0xE0: reset = reset || value == 0xB6
                case 0xF2: file.bytes[0xF2] = value & 0x07
                case 0xF4:
                    file.bytes[0xF4] = value
                    startMeasurement = value & 0x03 == 0x01 || value & 0x03 == 0x02
                case 0xF5: file.bytes[0xF5] = value
                default: break // calibration, id and data are read-only
                }
            }
            if reset {
                let pointer = s.registers.pointer
                let stuck = s.nvmCopyStuck
                s = State(registers: Self.powerOnRegisters(calibration))
                s.registers.pointer = pointer
                s.nvmCopyDone = now + Self.startupNanos
                s.nvmCopyStuck = stuck
            } else if startMeasurement {
                s.measurementDone = now + Self.measurementNanos(ctrlHum: s.registers.bytes[0xF2], ctrlMeas: s.registers.bytes[0xF4])
                s.registers.bytes[0xF3] |= 0x08
            }
        }
    }

    public func transmit(count: Int) throws -> [UInt8] {
        let now = clock.now().bootNanos
        return try state.withLock { s in
            s.settle(now: now, encode: encode)
            if s.nvmCopyStuck || now < s.nvmCopyDone { s.registers.bytes[0xF3] |= 0x01 } else { s.registers.bytes[0xF3] &= ~0x01 }
            return try s.registers.transmit(count: count)
        }
    }

    /// Fault injection: after the next soft reset, im_update never clears.
    public func setNVMCopyStuck(_ stuck: Bool) { state.withLock { $0.nvmCopyStuck = stuck } }

    /// Datasheet appendix B: typical time 1 + 2·T + (2·P + 0.5) + (2·H + 0.5) ms, skipped ones 0.
    static func measurementNanos(ctrlHum: UInt8, ctrlMeas: UInt8) -> UInt64 {
        func samples(_ code: UInt8) -> UInt64 { code == 0 ? 0 : 1 << UInt64(min(code, 5) - 1) }
        let t = samples(ctrlMeas >> 5), p = samples((ctrlMeas >> 2) & 0x07), h = samples(ctrlHum & 0x07)
        return 1_000_000 + 2_000_000 * t + (p > 0 ? 2_000_000 * p + 500_000 : 0) + (h > 0 ? 2_000_000 * h + 500_000 : 0)
    }

    private static func powerOnRegisters(_ c: BME280Calibration) -> RegisterFile {
        var file = RegisterFile()
        file.bytes[0xD0] = 0x60
        var block1: [UInt8] = []
        for word in [c.t1, UInt16(bitPattern: c.t2), UInt16(bitPattern: c.t3), c.p1] + [c.p2, c.p3, c.p4, c.p5, c.p6, c.p7, c.p8, c.p9].map({ UInt16(bitPattern: $0) }) {
            block1 += [UInt8(word & 0xFF), UInt8(word >> 8)]
        }
        file.bytes.replaceSubrange(0x88..<0xA0, with: block1)
        file.bytes[0xA1] = c.h1
        let h2 = UInt16(bitPattern: c.h2), h4 = UInt16(bitPattern: c.h4), h5 = UInt16(bitPattern: c.h5)
        file.bytes.replaceSubrange(0xE1...0xE7, with: [
            UInt8(h2 & 0xFF), UInt8(h2 >> 8), c.h3,
            UInt8((h4 >> 4) & 0xFF), UInt8(h4 & 0x0F) | UInt8((h5 & 0x0F) << 4), UInt8((h5 >> 4) & 0xFF),
            UInt8(bitPattern: c.h6),
        ])
        file.bytes.replaceSubrange(0xF7...0xFE, with: [0x80, 0, 0, 0x80, 0, 0, 0x80, 0])
        return file
    }

    /// Raw ADC counts for the scenarios' values now: (adc_P, adc_T, adc_H).
    private func encode() -> (Int32, Int32, Int32) {
        let elapsed = clock.elapsed(since: start)
        let cal = calibration
        let celsius = temperature.value(at: elapsed)
        // t_fine = T × 5120; temperature rises with adc_T.
        let adcT = Self.search(0, 0xFFFFF, increasing: true, target: celsius * 5120) {
            Double(cal.compensateTemperature($0).tFine)
        }
        let tFine = cal.compensateTemperature(adcT).tFine
        let adcP = Self.search(0, 0xFFFFF, increasing: false, target: pressure.value(at: elapsed) * 100 * 256) {
            Double(cal.compensatePressure($0, tFine: tFine) ?? 0)
        }
        let adcH = Self.search(0, 0xFFFF, increasing: true, target: humidity.value(at: elapsed) * 1024) {
            Double(cal.compensateHumidity($0, tFine: tFine))
        }
        return (adcP, adcT, adcH)
    }

    /// The count in [low, high] whose compensated value is closest to `target`.
    private static func search(_ low: Int32, _ high: Int32, increasing: Bool, target: Double, _ f: (Int32) -> Double) -> Int32 {
        var (lo, hi) = (low, high)
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if (f(mid) < target) == increasing { lo = mid + 1 } else { hi = mid }
        }
        let candidates = [lo - 1, lo].filter { $0 >= low && $0 <= high }
        return candidates.min { abs(f($0) - target) < abs(f($1) - target) } ?? lo
    }
}

extension SimulatedBME280.State {
    /// Completes a forced measurement whose time has come: data registers latch, status clears,
    /// the chip returns to sleep mode. Skipped quantities keep their reset value.
    fileprivate mutating func settle(now: UInt64, encode: () -> (Int32, Int32, Int32)) {
        guard let done = measurementDone, now >= done else { return }
        let (p, t, h) = encode()
        let meas = registers.bytes[0xF4]
        if meas >> 5 != 0 {
            registers.bytes.replaceSubrange(0xFA...0xFC, with: [UInt8(t >> 12), UInt8((t >> 4) & 0xFF), UInt8((t & 0x0F) << 4)])
        }
        if (meas >> 2) & 0x07 != 0 {
            registers.bytes.replaceSubrange(0xF7...0xF9, with: [UInt8(p >> 12), UInt8((p >> 4) & 0xFF), UInt8((p & 0x0F) << 4)])
        }
        if registers.bytes[0xF2] & 0x07 != 0 {
            registers.bytes.replaceSubrange(0xFD...0xFE, with: [UInt8(h >> 8), UInt8(h & 0xFF)])
        }
        registers.bytes[0xF3] &= ~0x08
        registers.bytes[0xF4] &= ~0x03
        measurementDone = nil
    }
}
