import EdgeCore
import Foundation
import EdgeTesting
import HAL
import HALSimulation
import Synchronization
import Testing

@Suite struct SensorPollerTests {
    /// An EZO pH read holds its task 900 ms; the ADC's polls, once a second, land on time.
    @Test func slowChipNeverDelaysAnother() async throws {
        let clock = SteppingClock(bootNanos: 0)
        let bus = SimulatedI2CBus(name: "i2c-1")
        bus.attach(SimulatedEZO(kind: .ph, scenario: Scenario(shape: .constant(8.1)), clock: clock), at: 0x63)
        bus.attach(SimulatedADS1115(inputs: [Scenario(shape: .constant(1.5))], clock: clock), at: 0x48)
        let poller = SensorPoller(sensors: [
            PolledSensor(id: "ph", sensor: EZOCircuit(bus: bus, kind: .ph, clock: clock), interval: .milliseconds(1500)),
            PolledSensor(id: "adc", sensor: ADS1115(bus: bus, clock: clock), interval: .seconds(1)),
        ], clock: clock)
        let collected = Mutex<[(String, UInt64, Double)]>([])
        let task = Task {
            await poller.run { result in
                let value = (try? result.result.get().first?.value) ?? .nan
                collected.withLock { $0.append((result.sensorID, result.takenAt.bootNanos, value)) }
            }
        }
        await clock.advance(by: .milliseconds(3100), settledAt: 2)
        task.cancel()
        await task.value
        let results = collected.withLock { $0 }
        let ms: UInt64 = 1_000_000
        let adc = results.filter { $0.0 == "adc" }.map(\.1)
        let ph = results.filter { $0.0 == "ph" }.map(\.1)
        #expect(adc == [7_812_500, 1000 * ms + 7_812_500, 2000 * ms + 7_812_500, 3000 * ms + 7_812_500])
        #expect(ph == [900 * ms, 2400 * ms])
        #expect(Set(results.map(\.2)) == [1.5, 8.1])
    }

    /// A delivery that outlasts the rest of the slot (a slow commit) used to make the wait
    /// negative, which traps on unsigned arithmetic; the poll now goes to the next free slot.
    @Test func aSlowDeliverySkipsToTheNextSlot() async throws {
        struct Instant: Sensor {
            var channels: [Channel] { [Channel(name: "v", unit: "V")] }
            func read() async throws -> [HAL.Measurement] { [HAL.Measurement(channel: "v", value: 1, unit: "V")] }
        }
        let clock = ManualDeviceClock(bootNanos: 0)
        let poller = SensorPoller(sensors: [PolledSensor(id: "v", sensor: Instant(), interval: .seconds(1))], clock: clock)
        let taken = Mutex<[UInt64]>([])
        let task = Task {
            await poller.run { result in
                let count = taken.withLock { $0.append(result.takenAt.bootNanos); return $0.count }
                if count == 1 { clock.advance(by: .milliseconds(1500)) }
                if count == 3 { withUnsafeCurrentTask { $0?.cancel() } }
            }
        }
        await task.value
        #expect(Array(taken.withLock { $0 }.prefix(3)) == [0, 2_000_000_000, 3_000_000_000])
    }

    @Test func failuresAreReportedAndRetried() async throws {
        let clock = SteppingClock(bootNanos: 0)
        let bus = SimulatedI2CBus(name: "i2c-1")
        bus.attach(SimulatedADS1115(inputs: [Scenario(shape: .constant(1.5))], clock: clock), at: 0x48)
        bus.setFault(.absent, at: 0x48)
        let poller = SensorPoller(sensors: [PolledSensor(id: "adc", sensor: ADS1115(bus: bus, clock: clock), interval: .seconds(1))], clock: clock)
        let collected = Mutex<[PollResult]>([])
        let task = Task { await poller.run { r in collected.withLock { $0.append(r) } } }
        await clock.advance(by: .milliseconds(500), settledAt: 1)
        bus.setFault(nil, at: 0x48)
        await clock.advance(by: .milliseconds(600), settledAt: 1)
        task.cancel()
        await task.value
        let results = collected.withLock { $0 }
        #expect(results.count == 2)
        #expect(results[0].takenAt.bootNanos == 0)
        guard case .failure(.busError(.noDevice("i2c-1 address 0x48"))) = results[0].result else { Issue.record("\(results[0].result)"); return }
        #expect(results[1].takenAt.bootNanos == 1_007_812_500)
        #expect(try results[1].result.get() == [Measurement(channel: "voltage", value: 1.5, unit: "V")])
    }

    /// Results reach `run`'s consumer in poll order and on the schedule: a ramp sampled when
    /// the chip receives each R.
    @Test func resultsArriveOnSchedule() async throws {
        let clock = ManualDeviceClock(bootNanos: 0)
        let bus = SimulatedI2CBus()
        bus.attach(SimulatedEZO(kind: .orp, scenario: Scenario(shape: .ramp(start: 300, perSecond: 1, limit: nil)), clock: clock), at: 0x62)
        let poller = SensorPoller(sensors: [
            PolledSensor(id: "orp", sensor: EZOCircuit(bus: bus, kind: .orp, clock: clock), interval: .seconds(5)),
        ], clock: clock)
        // The manual clock lets the poller run ahead of any consumer, so collect inside the
        // poll loop itself and stop it after the third result.
        let collected = Mutex<[PollResult]>([])
        await poller.run { result in
            if collected.withLock({ $0.append(result); return $0.count }) >= 3 {
                withUnsafeCurrentTask { $0?.cancel() }
            }
        }
        let received = Array(collected.withLock { $0 }.prefix(3))
        #expect(received.map(\.takenAt.bootNanos) == [900_000_000, 5_900_000_000, 10_900_000_000])
        // The chip samples when it receives R: at 0 s, 5 s and 10 s of the ramp.
        #expect(try received.map { try $0.result.get()[0].value } == [300, 305, 310])
    }
}
