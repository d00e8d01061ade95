import EdgeCore
import Foundation
import HAL
import Profiles

/// One sensor's calibration: the session wired to its circuit (each exchange under the bus
/// lock on hardware), what is read back afterwards, and the event to record.
struct Calibration {
    let spec: SensorSpec
    let lock: BusLock?
    let clock: any DeviceClock
    let write: @Sendable (String) -> Void
    var input: any LineSource = StandardInputLines()

    private func locked<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        guard let lock else { return try await body() }
        return try await lock.holding(clock: clock, body)
    }

    /// An EZO circuit's procedure, then `Cal,?` (and `Slope,?` on pH) read back.
    func circuit<B: I2CBus>(on bus: B, address: UInt8, kind: EZOKind, clear: Bool, onePoint: Bool,
                            stability: Stability) async throws -> CalibrationEvent {
        let circuit = EZOCircuit(bus: bus, address: address, kind: kind, clock: clock)
        let send: @Sendable (String) async throws -> String = { command in
            try await locked { try await circuit.command(command) }
        }
        write("Calibrating \(spec.id) (\(spec.driver.rawValue) at 0x\(String(address, radix: 16))); the daemon leaves it alone until this ends.\n")
        write("Now: \(try await send("Cal,?"))\n")
        if clear {
            _ = try await send("Cal,clear")
            write("Sent Cal,clear.\n")
        }
        let session = CalibrationSession(
            unit: kind.channels[0].unit, steps: CalibrationProcedure.steps(kind, onePoint: onePoint), stability: stability,
            input: input, write: write,
            read: {
                // The raw first value, not the driver's reading: a probe being calibrated may read
                // outside the circuit's range (a dry EC probe reads 0), and must still be shown.
                let reply = try await send("R")
                guard let value = reply.split(separator: ",").first.flatMap({ Double($0) }) else {
                    throw SensorError.corruptResponse("R answered '\(reply)'")
                }
                return value
            }, send: send)
        let stored = try await session.run()
        var result = try await send("Cal,?")
        if kind == .ph { result += "; " + (try await send("Slope,?")) }
        write("\nRead back: \(result)\n")
        return event(stored, result: result)
    }

    /// An ADS1115 probe: volts at each reference liquid become `calibrate_linear` points in
    /// the profile (or printed), checked by loading the profile again.
    func analog<B: I2CBus>(on bus: B, address: UInt8, points: Int, stability: Stability, profilePath: String,
                           edit: Bool) async throws -> CalibrationEvent {
        let adc = ADS1115(bus: bus, address: address, input: ADS1115Input.singleEnded[spec.adcInput],
                          fullScale: .nearest(volts: spec.fullScale), clock: clock)
        write("Calibrating \(spec.id) (ads1115 input \(spec.adcInput)): each reference liquid's volts become a calibrate_linear point.\n")
        let session = CalibrationSession(
            unit: "V", steps: CalibrationProcedure.analogSteps(points), stability: stability, input: input, write: write,
            read: { try await locked { try await adc.read()[0].value } }, send: { _ in "" })
        let stored = try await session.run()
        guard stored.count >= 2 else {
            write("\nFewer than two points stored: the profile is unchanged.\n")
            return event(stored, result: "unchanged: fewer than two points")
        }
        let block = ProfileCalibrationWriter.block(stored)
        guard edit, let text = try? String(contentsOfFile: profilePath, encoding: .utf8),
              let edited = ProfileCalibrationWriter.apply(stored, sensor: spec.id, to: text, file: profilePath) else {
            write("\nAdd this under sensor '\(spec.id)' in \(profilePath) (as its first filter), then run edge-agent check-config:\n\n\(block)")
            return event(stored, result: "printed: " + ProfileCalibrationWriter.filterLine(stored))
        }
        try text.write(toFile: profilePath + ".bak", atomically: true, encoding: .utf8)
        try edited.write(toFile: profilePath, atomically: true, encoding: .utf8)
        do {
            let profile = try DeviceProfile.load(path: profilePath)
            write("\nWrote \(ProfileCalibrationWriter.filterLine(stored)) into \(profilePath) (previous file: \(profilePath).bak).\n")
            write("check-config: \(profilePath): ok — \(profile.sensors.count) sensors; restart the agent (or reload it) to use the points.\n")
        } catch {
            try text.write(toFile: profilePath, atomically: true, encoding: .utf8)
            write("\nThe edited profile did not load (\(error)); it is restored. Add this by hand:\n\n\(block)")
            return event(stored, result: "printed: " + ProfileCalibrationWriter.filterLine(stored))
        }
        return event(stored, result: "profile: " + ProfileCalibrationWriter.filterLine(stored))
    }

    private func event(_ points: [CalibrationPoint], result: String) -> CalibrationEvent {
        let at = clock.now().unixMillis
        let formatter = ISO8601DateFormatter()
        return CalibrationEvent(at: formatter.string(from: Date(timeIntervalSince1970: Double(at) / 1000)), who: CalibrationLog.who,
                                sensor: spec.id, driver: spec.driver.rawValue, points: points, result: result)
    }
}
