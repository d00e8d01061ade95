import Foundation
import Profiles
import Yams

/// Puts an analog probe's `calibrate_linear` points into its profile as a text edit, so the
/// file's comments and layout survive: the sensor's block-style mapping gets the filter as
/// its first one (replacing an earlier `calibrate_linear`), and the result must load with the
/// points in place. Where it cannot (a flow-style `{ … }` sensor, a flow `filters: [ … ]`),
/// there is no edit and the caller prints the block to paste.
enum ProfileCalibrationWriter {
    /// `measured -> true` in ESPHome's form, as the loader reads it.
    static func filterLine(_ points: [CalibrationPoint]) -> String {
        "calibrate_linear: [" + points.map { "\"\(CalibrationSession.format($0.measured)) -> \(CalibrationSession.format($0.reference))\"" }
            .joined(separator: ", ") + "]"
    }

    /// The block to paste under the sensor, for when the file cannot be edited.
    static func block(_ points: [CalibrationPoint]) -> String {
        "filters:\n  - " + filterLine(points) + "\n"
    }

    /// The profile text with the filter written into `sensor`'s mapping, or nil.
    static func apply(_ points: [CalibrationPoint], sensor: String, to text: String, file: String) -> String? {
        guard let root = try? Yams.compose(yaml: text), let sensors = root["sensors"], case .sequence(let items) = sensors,
              let node = items.first(where: { $0["id"]?.string == sensor }), case .mapping(let mapping) = node,
              mapping.style != .flow, let mark = node.mark else { return nil }
        var lines = text.components(separatedBy: "\n")
        let start = mark.line - 1
        let indent = mark.column - 1
        func indentation(_ line: String) -> Int { line.prefix { $0 == " " }.count }
        func isBlank(_ line: String) -> Bool { line.trimmingCharacters(in: .whitespaces).isEmpty }
        var end = start + 1
        while end < lines.count, isBlank(lines[end]) || indentation(lines[end]) >= indent { end += 1 }
        while end > start + 1, isBlank(lines[end - 1]) { end -= 1 }
        let keyPrefix = String(repeating: " ", count: indent)
        let filterLine = Self.filterLine(points)
        if let filters = (start..<end).first(where: { lines[$0].hasPrefix(keyPrefix + "filters:") || ($0 == start && lines[$0].contains("filters:")) }) {
            guard lines[filters].trimmingCharacters(in: .whitespaces) == "filters:" else { return nil }
            var itemIndent = indent + 2
            if filters + 1 < end, lines[filters + 1].trimmingCharacters(in: .whitespaces).hasPrefix("- ") { itemIndent = indentation(lines[filters + 1]) }
            // Drop an earlier calibrate_linear item with its continuation lines.
            var i = filters + 1
            while i < end, indentation(lines[i]) >= itemIndent || isBlank(lines[i]) {
                if lines[i].trimmingCharacters(in: .whitespaces).hasPrefix("- calibrate_linear") {
                    var last = i + 1
                    while last < end, indentation(lines[last]) > itemIndent, !lines[last].trimmingCharacters(in: .whitespaces).hasPrefix("- ") { last += 1 }
                    lines.removeSubrange(i..<last)
                    end -= last - i
                    continue
                }
                i += 1
            }
            lines.insert(String(repeating: " ", count: itemIndent) + "- " + filterLine, at: filters + 1)
        } else {
            lines.insert(contentsOf: [keyPrefix + "filters:", keyPrefix + "  - " + filterLine], at: end)
        }
        let edited = lines.joined(separator: "\n")
        guard let profile = try? DeviceProfile.parse(yaml: edited, file: file),
              let spec = profile.sensors.first(where: { $0.id == sensor }),
              case .calibrateLinear(let written)? = spec.filters.first,
              written.map(\.actual) == points.map(\.reference) else { return nil }
        return edited
    }
}
