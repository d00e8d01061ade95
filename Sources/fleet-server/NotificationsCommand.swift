import ArgumentParser
import FleetServer
import Logging

/// `fleet-server devices label NAME site=garage …`: what routes match and group on.
struct Label: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace a device's labels (name=value …; none clears them), which notification routes match and group on.")
    @Argument(help: "Device name.") var name: String
    @Argument(help: "Labels as name=value, e.g. site=garage.") var labels: [String] = []
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        var parsed: [String: String] = [:]
        for label in labels {
            let (key, value) = try DeviceNotificationSettings.parseLabel(label)
            parsed[key] = value
        }
        let (name, labels) = (self.name, parsed)
        try await database.withStore { store in
            try await DeviceNotificationSettings.setLabels(labels, device: name, client: store.client, logger: .init(label: "fleet-server"))
        }
        print(labels.isEmpty ? "\(name): no labels" : "\(name): " + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }
}

/// `fleet-server devices offline-after NAME SECONDS|default`.
struct OfflineAfter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offline-after",
        abstract: "Set how long a device may be silent before it is offline (seconds), or `default` for the server's rule.")
    @Argument(help: "Device name.") var name: String
    @Argument(help: "Seconds (1 … 604800), or default.") var seconds: String
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let value: Int?
        if seconds == "default" {
            value = nil
        } else if let number = Int(seconds) {
            value = number
        } else {
            throw ValidationError("'\(seconds)' is neither a number of seconds nor default")
        }
        let name = self.name
        try await database.withStore { store in
            try await DeviceNotificationSettings.setOfflineThreshold(value, device: name, client: store.client, logger: .init(label: "fleet-server"))
        }
        print(value.map { "\(name): offline after \($0) s of silence" } ?? "\(name): offline after the server's default")
    }
}
