import EdgeCore
import HAL
import Synchronization

/// A TI ADS1115: pointer register, big-endian config and conversion registers, single-shot
/// conversions that take one sample period and clear OS until done, codes that clip at
/// ±full scale. Each input's scenario gives its voltage against GND.
public final class SimulatedADS1115: SimulatedI2CDevice {
    fileprivate struct State {
        var pointer: UInt8 = 0
        var registers: [UInt16] = [0, 0x8583, 0x8000, 0x7FFF]
        var conversion: (done: UInt64, code: Int16)?
        /// Volts a test put on an input, over its scenario.
        var applied: [Int: Double] = [:]
    }

    /// Puts `volts` on input `index` (0–3) instead of its scenario; nil: the scenario again.
    public func apply(volts: Double?, input index: Int) { state.withLock { $0.applied[index] = volts } }

    private let inputs: [ScenarioClock]
    private let clock: any DeviceClock
    private let state: Mutex<State>
    /// A replayed chip's captured conversion result, which every conversion yields again.
    private let replayedCode: Int16?

    /// `inputs`: volts on AIN0…AIN3 (missing inputs read 0 V).
    public init(inputs: [Scenario], clock: any DeviceClock) {
        self.inputs = inputs.map { ScenarioClock($0, clock: clock) }
        self.clock = clock
        self.state = Mutex(State())
        self.replayedCode = nil
    }

    /// A chip replayed from a word capture: its conversion, config and threshold registers as
    /// captured (a capture taken mid-conversion, OS = 0, finishes one sample period later), and
    /// every conversion started yields the captured result again.
    public init(replaying capture: RegisterWords, clock: any DeviceClock) throws(ReplayError) {
        guard let code = capture.words[0], let config = capture.words[1] else { throw .missingRegisters }
        self.inputs = []
        self.clock = clock
        self.replayedCode = Int16(bitPattern: code)
        var state = State()
        state.registers = [code, config & 0x7FFF, capture.words[2] ?? 0x8000, capture.words[3] ?? 0x7FFF]
        if config & 0x8000 == 0 { state.conversion = (clock.now().bootNanos + Self.periodNanos(config), Int16(bitPattern: code)) }
        self.state = Mutex(state)
    }

    public enum ReplayError: Error, Hashable, CustomStringConvertible {
        case missingRegisters
        public var description: String {
            "an ADS1115 capture needs the conversion (0x00) and config (0x01) registers: 'i2cdump -y <bus> <address> w' holds both"
        }
    }

    public var isAnswering: Bool { !(inputs.first?.droppedOut ?? false) }

    public func receive(_ bytes: [UInt8]) throws {
        let now = clock.now().bootNanos
        state.withLock { s in
            s.settle(now)
            guard let pointer = bytes.first else { return }
            s.pointer = pointer & 0x03
            guard bytes.count >= 3, s.pointer != 0 else { return }
            let value = UInt16(bytes[1]) << 8 | UInt16(bytes[2])
            s.registers[Int(s.pointer)] = s.pointer == 1 ? value & 0x7FFF : value
            if s.pointer == 1, value & 0x8000 != 0 {
                s.conversion = (now + Self.periodNanos(value), sample(config: value, applied: s.applied))
            }
        }
    }

    public func transmit(count: Int) throws -> [UInt8] {
        let now = clock.now().bootNanos
        return state.withLock { s in
            s.settle(now)
            var word = s.registers[Int(s.pointer)]
            if s.pointer == 1 && s.conversion == nil { word |= 0x8000 }
            return Array([UInt8(word >> 8), UInt8(word & 0xFF)].prefix(count)) + [UInt8](repeating: 0xFF, count: max(0, count - 2))
        }
    }

    static func periodNanos(_ config: UInt16) -> UInt64 {
        1_000_000_000 / [8, 16, 32, 64, 128, 250, 475, 860][Int((config >> 5) & 0x07)]
    }

    private func sample(config: UInt16, applied: [Int: Double]) -> Int16 {
        if let replayedCode { return replayedCode }
        func volts(_ i: Int) -> Double { applied[i] ?? (i < inputs.count ? inputs[i].value : 0) }
        let mux = Int((config >> 12) & 0x07)
        let v = switch mux {
        case 0: volts(0) - volts(1)
        case 1: volts(0) - volts(3)
        case 2: volts(1) - volts(3)
        case 3: volts(2) - volts(3)
        default: volts(mux - 4)
        }
        let fullScale = [6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256][Int((config >> 9) & 0x07)]
        // The code clips at ±full scale; NaN (an impossible input) reads as 0.
        return (v / fullScale * 32768).saturatingInteger(Int16.self)
    }
}

extension SimulatedADS1115.State {
    fileprivate mutating func settle(_ now: UInt64) {
        guard let conversion, now >= conversion.done else { return }
        registers[0] = UInt16(bitPattern: conversion.code)
        self.conversion = nil
    }
}
