import Foundation

/// A Prometheus text exposition read back by prometheus_client's own parser
/// (scripts/parse-metrics.py, Debian's python3-prometheus-client), so the tests of the agent's
/// textfile and the server's /metrics check what a real scraper would see.
public enum PrometheusText {
    public struct Sample: Decodable, Hashable, Sendable {
        public var family: String
        public var type: String
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    /// Every sample of the exposition in `path`; throws with the parser's reason if it rejects it.
    public static func parse(file path: String) async throws -> [Sample] {
        let json = try await Processes.run("/usr/bin/python3", [Built.repository.appendingPathComponent("scripts/parse-metrics.py").path, path])
        return try JSONDecoder().decode([Sample].self, from: Data(json.utf8))
    }

    /// Every sample of `text`.
    public static func parse(_ text: String) async throws -> [Sample] {
        let directory = try TemporaryDirectory("metrics-scrape")
        let file = directory.file("metrics.txt")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return try await parse(file: file)
    }
}
