import ArgumentParser
import EdgeCore
import Foundation
import HAL
import HALSimulation
import Profiles

/// `edge-agent capture SENSOR`: what the sensor's chip holds, in one file to attach to a bug
/// report, replayed anywhere with `capture:` in a profile (docs/REPLAY.md).
struct CaptureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture a sensor's chip (register dump or EZO transcript) into one file for a bug report; replay it with 'capture:' in a profile.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Device profile (overrides the config).") var profile: String?
    @Option(help: "Write the capture here instead of standard output.") var out: String?
    @Argument(help: "The sensor id in the profile.") var sensor: String

    func run() async throws {
        var config = try global.load()
        if let profile { config.profilePath = profile }
        let clock = SystemDeviceClock()
        var format: CaptureFormat?
        let opened = try OpenedSensor.open(sensor, profilePath: config.profilePath, clock: clock) { spec in
            format = spec.driver.declaration.capture
            guard format != nil else {
                throw CLIError("\(spec.driver.rawValue) has no capture: for a 1-Wire probe copy each slave's w1_slave file "
                    + "and point a w1 bus's device at the copy (docs/REPLAY.md)")
            }
        }
        guard let format else { return } // `open` refused a driver without one
        let chip = ChipCapture(bus: opened.bus, address: opened.address, spec: opened.spec, driver: opened.driver, clock: clock)
        let capture = try await opened.locked(clock: clock) { try await chip.take(format, bus: opened.busSpec) }
        if let out {
            do { try capture.write(toFile: out, atomically: true, encoding: .utf8) } catch {
                throw CLIError("cannot write \(out): \(error.localizedDescription)")
            }
        } else {
            Console.write(capture)
        }
    }
}

/// Reads one chip the way its capture format needs: a fresh measurement first (so the data
/// registers hold what the driver just read), then every register, or the EZO commands.
struct ChipCapture {
    let bus: any I2CBus
    let address: UInt8
    let spec: SensorSpec
    let driver: any Sensor
    let clock: any DeviceClock

    func take(_ format: CaptureFormat, bus busSpec: BusSpec) async throws -> String {
        var header = ["edge-agent capture: sensor \(spec.id) (\(spec.driver.rawValue) at \(Self.hex(address)) on bus \(busSpec.id), \(busSpec.device))"]
        switch format {
        case .byteDump, .wordCapture:
            do {
                let read = try await driver.read()
                header.append("read before the capture: " + read.map { "\($0.channel) \($0.value) \($0.unit)" }.joined(separator: ", "))
            } catch {
                header.append("read before the capture failed: \(error)")
            }
            if case .byteDump = format { return comments(header) + byteDump() }
            return comments(header) + wordDump()
        case .ezoTranscript:
            guard let kind = spec.driver.ezoKind else { throw CLIError("\(spec.driver.rawValue) is not an EZO circuit") }
            return try await transcript(on: bus, kind).render(header: header)
        }
    }

    private func comments(_ lines: [String]) -> String { lines.map { "# \($0)\n" }.joined() }

    /// `i2cdump -y N ADDRESS b`: each register read on its own, `XX` where the chip refused.
    private func byteDump() -> String {
        var text = "     0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f    0123456789abcdef\n"
        for row in stride(from: 0, to: 256, by: 16) {
            var cells = "", ascii = ""
            for column in 0..<16 {
                if let byte = try? bus.writeRead([UInt8(row + column)], readCount: 1, at: address).first {
                    cells += String(format: "%02x ", byte)
                    ascii += byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "."
                } else {
                    cells += "XX "
                    ascii += "X"
                }
            }
            text += String(format: "%02x: ", row) + cells + "   " + ascii + "\n"
        }
        return text
    }

    /// `i2cdump -y N ADDRESS w -r 0x00-0x03`: the four 16-bit registers, printed as SMBus
    /// words (first byte on the wire low) the way i2cdump prints them.
    private func wordDump() -> String {
        var cells = ""
        for register: UInt8 in 0...3 {
            if let bytes = try? bus.writeRead([register], readCount: 2, at: address), bytes.count == 2 {
                cells += String(format: "%02x%02x ", bytes[1], bytes[0])
            } else {
                cells += "XXXX "
            }
        }
        return "     0,8  1,9  2,a  3,b  4,c  5,d  6,e  7,f\n00: " + cells + "\n"
    }

    /// The circuit's answers to what the agent asks of it: identity, calibration, outputs, readings.
    private func transcript<B: I2CBus>(on bus: B, _ kind: EZOKind) async throws -> EZOTranscript {
        let circuit = EZOCircuit(bus: bus, address: address, kind: kind, clock: clock)
        var commands = ["i", "Cal,?"]
        if kind == .ph { commands.append("Slope,?") }
        if kind == .ec { commands.append("O,?") }
        commands += ["R", "R", "R"]
        var exchanges: [EZOTranscript.Exchange] = []
        for command in commands {
            do {
                exchanges.append(.init(command: command, status: 1, payload: try await circuit.command(command)))
            } catch SensorError.syntaxError {
                exchanges.append(.init(command: command, status: 2, payload: ""))
            } catch SensorError.noData {
                exchanges.append(.init(command: command, status: 255, payload: ""))
            } catch SensorError.stillProcessing {
                exchanges.append(.init(command: command, status: 254, payload: ""))
            }
        }
        return EZOTranscript(exchanges: exchanges)
    }

    static func hex(_ value: UInt8) -> String { String(format: "0x%02x", value) }
}
