import EdgeCore
import Foundation
import HAL

/// Where a calibration session's answers come from: standard input at the device, a script in tests.
protocol LineSource: Sendable {
    /// The next line typed, without its newline; nil at end of input.
    func nextLine() async -> String?
}

/// Standard input, a line at a time.
struct StandardInputLines: LineSource {
    func nextLine() async -> String? { readLine(strippingNewline: true) }
}

/// One calibration point of a procedure: what to tell the keeper, the reference value it
/// expects, and the command that stores it on the circuit.
struct CalibrationStep: Sendable {
    var name: String
    var instruction: String
    /// The reference value offered (enter accepts it); nil: the keeper must type one.
    var reference: Double?
    /// The circuit command storing the point at `value`; nil for ADS1115 points, which the
    /// profile stores instead.
    var command: (@Sendable (Double) -> String)?
}

/// When a live reading counts as settled: the last `count` readings within `epsilon`.
struct Stability: Sendable {
    var count: Int
    var epsilon: Double
    /// Readings shown before giving up on a probe that never settles.
    var maxReadings: Int = 300
}

/// A stored point: its name, the reference value, and what the probe read when it was taken.
struct CalibrationPoint: Sendable, Hashable, Codable {
    var name: String
    var reference: Double
    var measured: Double
}

/// Walks a procedure's steps through a keeper's answers: for each point the instruction, the
/// reference value, the live reading and its drift until stable, and a confirmation before
/// anything is stored. The circuit is reached only through `read` and `send`, so the same
/// session drives a circuit under the daemon's bus lock or a simulation in a test.
struct CalibrationSession {
    let unit: String
    let steps: [CalibrationStep]
    let stability: Stability
    let input: any LineSource
    let write: @Sendable (String) -> Void
    /// One reading of the probe (the driver's `read`, first channel).
    let read: @Sendable () async throws -> Double
    /// Sends a circuit command, returning its reply.
    let send: @Sendable (String) async throws -> String

    enum Outcome: Error, CustomStringConvertible {
        case quit
        case neverStable(String)
        var description: String {
            switch self {
            case .quit: "calibration stopped; the points stored so far stay on the circuit"
            case .neverStable(let step): "the reading never settled for the \(step) point: check the probe and its cable, then run calibrate again"
            }
        }
    }

    /// Runs every step; returns the points stored.
    func run() async throws -> [CalibrationPoint] {
        var stored: [CalibrationPoint] = []
        for (index, step) in steps.enumerated() {
            write("\nStep \(index + 1) of \(steps.count): \(step.name) point. \(step.instruction)\n")
            guard let reference = try await referenceValue(step) else { continue }
            let measured = try await settle(step)
            write("Store \(Self.format(reference)) as the \(step.name) point? [y/N] ")
            guard let answer = await input.nextLine() else { throw Outcome.quit }
            guard answer.lowercased().hasPrefix("y") else {
                write("Not stored.\n")
                continue
            }
            if let command = step.command {
                let text = command(reference)
                _ = try await send(text)
                write("Sent \(text).\n")
            }
            stored.append(CalibrationPoint(name: step.name, reference: reference, measured: measured))
        }
        return stored
    }

    private func referenceValue(_ step: CalibrationStep) async throws -> Double? {
        while true {
            let offered = step.reference.map { " [\(Self.format($0))]" } ?? ""
            write("Reference value\(offered) (enter \(step.reference == nil ? "a number" : "to accept"), 'skip' to leave this point out, 'quit' to stop): ")
            guard let line = await input.nextLine()?.trimmingCharacters(in: .whitespaces) else { throw Outcome.quit }
            switch line.lowercased() {
            case "quit": throw Outcome.quit
            case "skip": return nil
            case "": if let reference = step.reference { return reference }
            default:
                if let value = try? NumberText.finite(line, in: -1e7...1e7) { return value }
            }
            write("'\(line)' is not a number.\n")
        }
    }

    /// Shows each reading and the drift over the last `count` until they agree within epsilon.
    private func settle(_ step: CalibrationStep) async throws -> Double {
        var recent: [Double] = []
        for _ in 0..<stability.maxReadings {
            let value = try await read()
            recent = Array((recent + [value]).suffix(stability.count))
            let drift = (recent.max() ?? value) - (recent.min() ?? value)
            let settled = recent.count == stability.count && drift <= stability.epsilon
            write("  reading \(Self.format(value)) \(unit)   drift \(Self.format(drift)) over the last \(recent.count) (stable within \(Self.format(stability.epsilon)) over \(stability.count))\(settled ? "   stable" : "")\n")
            if settled { return value }
        }
        throw Outcome.neverStable(step.name)
    }

    static func format(_ value: Double) -> String {
        var text = String(format: "%.4f", value)
        while text.contains("."), text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text += "0" }
        return text
    }
}
