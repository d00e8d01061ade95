import Foundation

/// What the numbers were measured on: the table means little without it.
struct Machine {
    var cores: Int
    var cpuModel: String
    var loadAverage: String

    static func current() -> Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n")
            .first { $0.hasPrefix("model name") || $0.hasPrefix("Model") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))
            .map { $0.split(separator: " ").prefix(3).joined(separator: " ") } ?? "unknown"
        return Machine(cores: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model, loadAverage: load)
    }

    var summary: String {
        "machine: \(cores) cores, \(cpuModel); load average \(loadAverage) at start"
    }
}
