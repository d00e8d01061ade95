import Foundation
import Hummingbird

/// An `application/x-www-form-urlencoded` body, as the dashboard's forms post it.
struct FormBody: Sendable {
    static let maxBytes = 16_384
    var fields: [String: String]

    init(_ text: String) {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            let name = decode(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        self.fields = fields
    }

    /// Reads at most `maxBytes`; a larger body is refused (413) before it is parsed.
    static func read(_ request: Request) async throws -> FormBody {
        do {
            let buffer = try await request.body.collect(upTo: maxBytes)
            return FormBody(String(buffer: buffer))
        } catch {
            throw FleetError(.contentTooLarge, "too_large", "a dashboard form is at most \(maxBytes) bytes")
        }
    }

    subscript(_ name: String) -> String? { fields[name] }
}
