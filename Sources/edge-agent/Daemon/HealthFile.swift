import Foundation
import Wire

/// The daemon's latest `HealthReport`, rewritten atomically every few seconds so `status`
/// and `sensors` (separate processes) read what the daemon knows without talking to it.
enum HealthFile {
    static func write(_ report: HealthReport, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        // rename(2) is atomic: a reader sees the old file or the new one, never half.
        try encoder.encode(report).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func read(from path: String) throws -> HealthReport {
        try JSONDecoder().decode(HealthReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
