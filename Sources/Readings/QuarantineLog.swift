import EdgeCore
import Foundation

/// The data directory's record of databases moved aside as unreadable, and of their
/// acknowledgement: the device reports itself unhealthy from a quarantine until a person
/// acknowledges it (`edge-agent storage ack`), because the readings in the moved file are
/// no longer synced or shown unless someone exports them.
///
/// One JSON object a line, only ever appended: appending keeps the file's owner and mode
/// (the CLI may run as root, the daemon as its own user), and a torn last line from a crash
/// loses only that line.
public struct QuarantineLog: Sendable {
    /// One database moved aside.
    public struct Entry: Codable, Sendable, Hashable {
        public var atMillis: Int64
        /// Where the unreadable file (and its `-wal`/`-shm`) now is.
        public var movedTo: String
        public var reason: String
    }

    struct Line: Codable {
        var event: String
        var atMillis: Int64
        var movedTo: String?
        var reason: String?
    }

    /// Only the last this many bytes are read: quarantines are rare, and a file grown by a
    /// fault cannot make health reporting slow.
    public static let maxBytesRead = 256 * 1024

    public let path: String

    public init(path: String) { self.path = path }

    /// Appends a quarantine.
    public func recordQuarantine(movedTo: String, reason: String, at time: DeviceTime) throws {
        try append(Line(event: "quarantined", atMillis: time.unixMillis, movedTo: movedTo, reason: String(reason.prefix(500))))
    }

    /// Appends an acknowledgement of every quarantine so far.
    /// - Returns: the quarantines it acknowledged; none leaves the file as it was.
    @discardableResult
    public func acknowledge(at time: DeviceTime) throws -> [Entry] {
        let open = try unacknowledged()
        if !open.isEmpty { try append(Line(event: "acknowledged", atMillis: time.unixMillis)) }
        return open
    }

    /// Quarantines recorded after the last acknowledgement, oldest first.
    public func unacknowledged() throws -> [Entry] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
            return []
        }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size > UInt64(Self.maxBytesRead) ? size - UInt64(Self.maxBytesRead) : 0)
        let data = try handle.readToEnd() ?? Data()
        var open: [Entry] = []
        let decoder = JSONDecoder()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let line = try? decoder.decode(Line.self, from: Data(line)) else { continue }
            switch line.event {
            case "quarantined":
                open.append(Entry(atMillis: line.atMillis, movedTo: line.movedTo ?? "?", reason: line.reason ?? ""))
            case "acknowledged":
                open.removeAll()
            default:
                continue
            }
        }
        return open
    }

    private func append(_ line: Line) throws {
        var data = try JSONEncoder().encode(line)
        data.append(UInt8(ascii: "\n"))
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
        }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        if try handle.seekToEnd() > 0 {
            // A line torn by a crash must not swallow this one.
            try handle.seek(toOffset: try handle.offset() - 1)
            if try handle.read(upToCount: 1) != Data([UInt8(ascii: "\n")]) { data.insert(UInt8(ascii: "\n"), at: 0) }
        }
        try handle.write(contentsOf: data)
        try handle.synchronize()
    }
}
