import EdgeCore
import HAL
import Synchronization

/// A BME280 replayed from an `i2cdump` byte capture: the captured calibration and data
/// registers, with the chip's status behaviour from its datasheet, so a capture taken while
/// the chip was measuring (status bit 3 set) or copying its NVM (bit 0) replays as the chip
/// would: the bits clear once the measurement or start-up time has passed, and a forced-mode
/// write or soft reset sets them again. The data registers keep their captured values.
public final class ReplayedBME280: SimulatedI2CDevice {
    private struct State {
        var registers: RegisterFile
        var measuringUntil: UInt64
        var copyingUntil: UInt64
    }

    private let clock: any DeviceClock
    private let state: Mutex<State>

    public init(image: RegisterDumpDevice.Image, clock: any DeviceClock) {
        self.clock = clock
        let now = clock.now().bootNanos
        var registers = image.registerFile
        let status = registers.bytes[0xF3]
        let measuring = status & 0x08 != 0
            ? now + SimulatedBME280.measurementNanos(ctrlHum: registers.bytes[0xF2], ctrlMeas: registers.bytes[0xF4]) : 0
        let copying = status & 0x01 != 0 ? now + SimulatedBME280.startupNanos : 0
        registers.bytes[0xF3] &= ~0x09
        state = Mutex(State(registers: registers, measuringUntil: measuring, copyingUntil: copying))
    }

    public func receive(_ bytes: [UInt8]) throws {
        let now = clock.now().bootNanos
        state.withLock { s in
            var reset = false, forced = false
            s.registers.receive(bytes) { file, register, value in
                switch register {
                case 0xE0: reset = reset || value == 0xB6
                case 0xF2, 0xF5: file.bytes[Int(register)] = value
                case 0xF4:
                    file.bytes[0xF4] = value
                    forced = value & 0x03 == 0x01 || value & 0x03 == 0x02
                default: break // calibration, id and data are the capture's
                }
            }
            if reset { s.copyingUntil = now + SimulatedBME280.startupNanos }
            if forced {
                s.measuringUntil = now + SimulatedBME280.measurementNanos(ctrlHum: s.registers.bytes[0xF2], ctrlMeas: s.registers.bytes[0xF4])
            }
        }
    }

    public func transmit(count: Int) throws -> [UInt8] {
        let now = clock.now().bootNanos
        return try state.withLock { s in
            var status = s.registers.bytes[0xF3] & ~0x09
            if now < s.measuringUntil { status |= 0x08 } else if s.measuringUntil != 0 {
                s.registers.bytes[0xF4] &= ~0x03 // forced mode ends in sleep mode
                s.measuringUntil = 0
            }
            if now < s.copyingUntil { status |= 0x01 }
            s.registers.bytes[0xF3] = status
            return try s.registers.transmit(count: count)
        }
    }
}
