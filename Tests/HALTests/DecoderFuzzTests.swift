import EdgeCore
import Foundation
import HAL
import HALSimulation
import Testing

/// Issue 11: a driver never traps on what a bus hands it. Seeded random bytes and text
/// (valid-looking and not) through every decoder: each returns finite values or throws a
/// SensorError.
@Suite final class DecoderFuzzTests {
    var random = SeededRandom(seed: 2026)

    func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) } }

    @Test func bme280CompensationTakesAnyCalibrationAndData() throws {
        var values = 0
        for _ in 0..<20_000 {
            let calibration = BME280Calibration(block1: bytes(26), block2: bytes(7))
            if let measurements = try? BME280<SimulatedI2CBus>.decode(bytes(8), calibration: calibration) {
                values += 1
                for m in measurements { #expect(m.value.isFinite, "\(m)") }
            }
        }
        #expect(values > 10_000)
    }

    @Test func ads1115EveryCode() throws {
        for code in Int16.min...Int16.max {
            for scale in [ADS1115<SimulatedI2CBus>.FullScale.v6_144, .v4_096, .v2_048, .v1_024, .v0_512, .v0_256] {
                if let volts = try? ADS1115<SimulatedI2CBus>.volts(code: code, fullScale: scale) { #expect(volts.isFinite) }
            }
        }
    }

    @Test func ezoRepliesOfAnyBytes() throws {
        let pieces = ["1", "-", ".", "e", "9", ",", "nan", "inf", "1e400", "-1023", "99999999999999999999", " "]
        for _ in 0..<20_000 {
            _ = try? EZOCircuit<SimulatedI2CBus>.parseResponse(bytes(Int(random.next() % 40)), command: "R")
            let payload = (0..<Int(random.next() % 12)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            for kind in [EZOKind.ph, .ec, .rtd] {
                for m in (try? EZOCircuit<SimulatedI2CBus>.parseReading(payload, kind: kind)) ?? [] { #expect(m.value.isFinite, "\(payload)") }
            }
        }
    }

    @Test func w1TextOfAnyShape() throws {
        for _ in 0..<20_000 {
            let pad = bytes(9).map { String(format: "%02x", $0) }.joined(separator: " ")
            let crc = random.next() % 2 == 0 ? "YES" : "NO"
            let t = ["25062", "-99999999999999999999", "85000", "x", ""][Int(random.next() % 5)]
            let text = random.next() % 4 == 0 ? String(decoding: bytes(Int(random.next() % 80)), as: UTF8.self)
                : "\(pad) : crc=\(pad.suffix(2)) \(crc)\n\(pad) t=\(t)\n"
            if let celsius = try? OneWireThermometer<SysfsOneWire>.parseW1Slave(text) { #expect(celsius.isFinite) }
            if let celsius = try? OneWireThermometer<SysfsOneWire>.parseTemperatureFile(t) { #expect(celsius.isFinite) }
        }
    }
}
