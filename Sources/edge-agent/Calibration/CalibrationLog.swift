import Foundation

/// One calibration as recorded: who, when, which sensor, the points stored and what the
/// circuit reported afterwards.
struct CalibrationEvent: Codable, Sendable, Hashable {
    var at: String
    var who: String
    var sensor: String
    var driver: String
    var points: [CalibrationPoint]
    /// `Cal,?` and `Slope,?` replies, or the profile change for analog probes.
    var result: String
}

/// `calibrations.jsonl` in the data directory: one JSON event per line, appended, so the
/// history survives restarts and needs no schema in the readings database.
struct CalibrationLog {
    let path: String

    init(dataDirectory: String) { path = dataDirectory + "/calibrations.jsonl" }

    func append(_ event: CalibrationEvent) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = String(decoding: try encoder.encode(event), as: UTF8.self) + "\n"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(line.utf8))
    }

    /// Every event, oldest first; lines that do not decode are skipped.
    func events() -> [CalibrationEvent] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(CalibrationEvent.self, from: Data($0.utf8)) }
    }

    /// The person calibrating: the sudo caller, else the login user.
    static var who: String {
        let environment = ProcessInfo.processInfo.environment
        return environment["SUDO_USER"] ?? environment["USER"] ?? environment["LOGNAME"] ?? "uid \(getuid())"
    }
}
