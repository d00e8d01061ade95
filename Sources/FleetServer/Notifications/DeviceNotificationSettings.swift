import Foundation
import Logging
import PostgresNIO

/// A device's labels and offline threshold, set by `fleet-server devices label|offline-after`
/// and the admin API alike.
public enum DeviceNotificationSettings {
    /// What is wrong with the request, or that the device does not exist.
    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
        public var missing = false
    }

    public static let maxLabels = 32
    public static let maxThresholdSeconds = 7 * 86_400

    /// Replaces the device's labels.
    public static func setLabels(_ labels: [String: String], device: String, client: PostgresClient, logger: Logger) async throws {
        if labels.count > maxLabels { throw Refusal(description: "\(labels.count) labels; at most \(maxLabels)") }
        for (name, value) in labels.sorted(by: { $0.key < $1.key }) {
            guard DeviceLabels.isValidName(name) else {
                throw Refusal(description: "label \"\(name)\": a name is 1–64 letters, digits, '_', '-' or '.'")
            }
            guard (1...128).contains(value.utf8.count) else { throw Refusal(description: "label \(name): a value is 1–128 bytes") }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(labels), as: UTF8.self)
        try await update(client.query("UPDATE devices SET labels = \(json)::jsonb WHERE name = \(device) RETURNING id", logger: logger), device)
    }

    /// Sets (or, with nil, clears) the device's own offline threshold.
    public static func setOfflineThreshold(_ seconds: Int?, device: String, client: PostgresClient, logger: Logger) async throws {
        if let seconds, !(1...maxThresholdSeconds).contains(seconds) {
            throw Refusal(description: "an offline threshold of \(seconds) s; allowed 1 … \(maxThresholdSeconds) (a week)")
        }
        try await update(client.query("UPDATE devices SET offline_after_seconds = \(seconds) WHERE name = \(device) RETURNING id",
                                      logger: logger), device)
    }

    /// `site=garage` → ("site", "garage").
    public static func parseLabel(_ text: String) throws -> (String, String) {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw Refusal(description: "\"\(text)\" is not name=value") }
        return (String(parts[0]), String(parts[1]))
    }

    private static func update(_ rows: PostgresRowSequence, _ device: String) async throws {
        for try await _ in rows.decode(Int64.self) { return }
        throw Refusal(description: "no device named \"\(device)\"", missing: true)
    }
}
