import EdgeCore
import Foundation
import EdgeTesting
import HAL
import HALSimulation
import Testing

/// Issue 11: no trap or hang in a driver or a simulated chip on any value it can be given.
/// Simulated registers saturate as a real chip's do, a line driven faster than it can queue
/// drops (and counts) edges, and drivers turn impossible settings into errors.
@Suite struct ExtremeValueTests {
    static let extremes: [Double] = [.nan, .infinity, -.infinity, 1e300, -1e300, .greatestFiniteMagnitude, -0.0]

    @Test func oneWireTextSaturatesLikeTheRegister() throws {
        #expect(SimulatedOneWire.kernelText(celsius: 1e300, fault: nil).temperature == "2047937\n") // 0x7FFF
        #expect(SimulatedOneWire.kernelText(celsius: -.infinity, fault: nil).temperature == "-2048000\n") // 0x8000
        #expect(SimulatedOneWire.kernelText(celsius: .nan, fault: nil).temperature == "0\n")
    }

    @Test func adcClipsEveryExtremeInput() async throws {
        for value in Self.extremes {
            let clock = ManualDeviceClock()
            let bus = SimulatedI2CBus(name: "i2c-1")
            bus.attach(SimulatedADS1115(inputs: [Scenario(shape: .constant(value), noise: 1e300)], clock: clock), at: 0x48)
            do {
                let volts = try await ADS1115(bus: bus, clock: clock).read()[0].value
                #expect(volts.isFinite && abs(volts) <= 4.096, "\(value) → \(volts)")
            } catch let error as SensorError {
                guard case .saturated = error else { Issue.record("\(value): \(error)"); return }
            }
        }
    }

    @Test func environmentAndProbeSimulationsTakeAnyValue() async throws {
        for value in Self.extremes {
            let clock = ManualDeviceClock()
            let bus = SimulatedI2CBus()
            let scenario = Scenario(shape: .constant(value), noise: 1e300)
            bus.attach(SimulatedBME280(temperature: scenario, pressure: scenario, humidity: scenario, clock: clock), at: 0x76)
            bus.attach(SimulatedEZO(kind: .ph, scenario: scenario, clock: clock), at: 0x63)
            for measurement in (try? await BME280(bus: bus, clock: clock).read()) ?? [] {
                #expect(measurement.value.isFinite, "\(value) → \(measurement)")
            }
            for measurement in (try? await EZOCircuit(bus: bus, address: 0x63, kind: .ph, clock: clock).read()) ?? [] {
                #expect(measurement.value.isFinite, "\(value) → \(measurement)")
            }
        }
    }

    @Test func aSinePeriodOfZeroHoldsTheMean() throws {
        let sine = Scenario(shape: .sine(mean: 25, amplitude: 1, period: .zero))
        #expect(sine.value(at: .seconds(3)) == 25)
    }

    /// 10¹² Hz for a day between two reads used to toggle the line 10¹⁷ times; now the line
    /// runs at most at 10⁹ Hz, a look is bounded, and the edges beyond the queue are counted:
    /// 2 × 10⁹ × 86 400 edges, 1 024 of them queued.
    @Test func aFlowFasterThanTheLineDropsEdgesInsteadOfHanging() async throws {
        let clock = ManualDeviceClock()
        let chip = SimulatedGPIOChip(clock: clock)
        let meter = PulseCounter(line: try chip.input(.offset(3), bias: .pullUp, activeLow: false), kFactor: 450, clock: clock)
        _ = try await meter.read()
        chip.drive(offset: 3, .pulses(Scenario(shape: .constant(1e12))))
        clock.advance(by: .seconds(86_400))
        await assertThrows(SensorError.noData("172799999998976 edges were lost: the pulse rate exceeds what the line can queue")) {
            _ = try await meter.read()
        }
    }

    @Test func aZeroOrNegativeKFactorIsAnErrorNotInfinity() async throws {
        let clock = ManualDeviceClock()
        let chip = SimulatedGPIOChip(clock: clock)
        for k in [0, -450, Double.nan] {
            let meter = PulseCounter(line: try chip.input(.offset(4), bias: .pullUp, activeLow: false), kFactor: k, clock: clock)
            await assertThrows(SensorError.noData("k-factor \(k) is not a positive number of pulses per litre")) { _ = try await meter.read() }
        }
    }

    @Test func aDebounceLongerThanTheSettleLimitIsCapped() throws {
        let chip = SimulatedGPIOChip(clock: ManualDeviceClock())
        let input = DigitalInput(line: try chip.input(.offset(5), bias: .pullUp, activeLow: false), kind: .leakSwitch,
                                 debounce: .seconds(604_800), clock: ManualDeviceClock())
        #expect(input.debounce == .seconds(1))
    }
}
