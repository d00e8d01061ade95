import Foundation

/// A fresh directory per test, removed with everything in it when the value goes away.
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// `label` names the directory (`/tmp/LABEL-UUID`) so a leftover one says which test made it.
    public init(_ label: String = "reef-edge-tests") throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public var url: URL { URL(fileURLWithPath: path) }

    /// Where the tests put the agent's database: the daemon's own default name.
    public var databasePath: String { path + "/edge.sqlite" }

    /// `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
