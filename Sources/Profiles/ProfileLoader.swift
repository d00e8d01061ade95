import AlertEngine
import EdgeCore
import Foundation
import HAL
import Yams

extension DeviceProfile {
    /// Reads and validates a profile; throws every error at once, each with file, line, key
    /// and what is allowed there.
    public static func load(path: String) throws(ProfileErrors) -> DeviceProfile {
        switch YAMLSource.text(path: path, maxBytes: maxFileBytes, noun: "the profile") {
        case .success(let text): return try parse(yaml: text, file: path)
        case .failure(let error): throw ProfileErrors(errors: [error])
        }
    }

    /// Far more than any board's profile (40 000 sensors are about 4 MB); a larger file is not a profile.
    public static let maxFileBytes = 16 * 1024 * 1024

    public static func parse(yaml text: String, file: String) throws(ProfileErrors) -> DeviceProfile {
        let root: Node
        switch YAMLSource.compose(text, file: file) {
        case .success(let node?): root = node
        case .success(nil): throw ProfileErrors(errors: [ProfileError(file: file, line: 1, column: 1, key: "", message: "the profile is empty")])
        case .failure(let error): throw ProfileErrors(errors: [error])
        }
        var reader = YAMLReader(file: file)
        let profile = reader.profile(root)
        guard reader.errors.isEmpty, let profile else { throw ProfileErrors(errors: reader.errors) }
        return profile
    }
}

/// Typed reads from YAML nodes that record errors and go on, so one pass finds them all:
/// how profiles and agent.yaml are read, with the same limits and the same errors.
public struct YAMLReader {
    public let file: String
    public private(set) var errors: [ProfileError] = []
    /// Nodes left to visit: aliases can make a short file a tree of billions (YAMLGuard).
    private var budget = YAMLGuard.maxNodes

    public init(file: String) { self.file = file }

    /// Spends `count` of the node budget; false (after reporting it once) when it is spent,
    /// and once the error cap is reached, so a hostile file stops being read early.
    mutating func visit(_ count: Int, at node: Node, _ path: String) -> Bool {
        guard budget > 0, errors.count < YAMLGuard.maxErrors else { return false }
        budget -= count
        if budget <= 0 { fail(node, path, "more than \(YAMLGuard.maxNodes) values (aliases expanding?); a profile needs far fewer") }
        return budget > 0
    }

    public mutating func fail(_ node: Node?, _ key: String, _ message: String) {
        guard errors.count < YAMLGuard.maxErrors else { return }
        if errors.count == YAMLGuard.maxErrors - 1 {
            errors.append(ProfileError(file: file, line: node?.mark?.line, column: node?.mark?.column, key: key,
                                       message: "more than \(YAMLGuard.maxErrors) errors; fix these first"))
            return
        }
        errors.append(ProfileError(file: file, line: node?.mark?.line, column: node?.mark?.column, key: key, message: message))
    }

    /// A mapping's entries, with unknown keys reported (and a "did you mean").
    public mutating func fields(_ node: Node, _ path: String, allowed: [String]) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            fail(node, path, "expected a mapping with keys \(allowed.joined(separator: ", "))")
            return nil
        }
        var out: [String: Node] = [:]
        guard visit(mapping.count, at: node, path) else { return nil }
        for pair in mapping {
            guard let key = pair.key.string else { continue }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if !allowed.contains(key) {
                let hint = Self.nearest(key, among: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                fail(pair.key, keyPath, "unknown key\(hint); allowed here: \(allowed.joined(separator: ", "))")
                continue
            }
            out[key] = pair.value
        }
        return out
    }

    public mutating func require(_ fields: [String: Node], _ key: String, _ path: String, in node: Node) -> Node? {
        if let value = fields[key] { return value }
        fail(node, path.isEmpty ? key : "\(path).\(key)", "required key is missing")
        return nil
    }

    /// The one key of `choices` that `fields` has (a rule's condition, a scenario's shape),
    /// or nil after reporting that there must be exactly one.
    mutating func exactlyOne(of choices: [String], _ what: String, in fields: [String: Node], _ path: String,
                             at node: Node) -> (key: String, value: Node)? {
        let given = choices.filter { fields[$0] != nil }
        guard given.count == 1, let key = given.first, let value = fields[key] else {
            fail(node, path, "give exactly one \(what): \(choices.joined(separator: ", "))")
            return nil
        }
        return (key, value)
    }

    public mutating func string(_ node: Node?, _ path: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            fail(node, path, "expected a single value")
            return nil
        }
        return scalar.string
    }

    /// A scalar that may be empty (`url: ""` turns a setting off).
    public mutating func scalar(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            fail(node, path, "expected a single value")
            return nil
        }
        return scalar.string
    }

    /// A byte size (`512MB`, `2GiB`) in `range`.
    public mutating func bytes(_ node: Node?, _ path: String, in range: ClosedRange<Int64>) -> Int64? {
        guard let text = string(node, path) else { return nil }
        do { return try ByteSizeText.parse(text, in: range) } catch {
            fail(node, path, error.description)
            return nil
        }
    }

    /// A finite number in `range` (NaN, infinity and overflowing literals never pass).
    public mutating func double(_ node: Node?, _ path: String, in range: ClosedRange<Double>) -> Double? {
        guard let text = string(node, path) else { return nil }
        do { return try NumberText.finite(text, in: range) } catch {
            fail(node, path, error.description)
            return nil
        }
    }

    public mutating func int(_ node: Node?, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, path) else { return nil }
        do { return try NumberText.integer(text, in: range) } catch {
            fail(node, path, error.description)
            return nil
        }
    }

    /// Text of at most `maxBytes` UTF-8 bytes (ids, units, descriptions).
    public mutating func text(_ node: Node?, _ path: String, maxBytes: Int) -> String? {
        guard let text = string(node, path) else { return nil }
        guard text.utf8.count <= maxBytes else {
            fail(node, path, "is \(text.utf8.count) bytes; at most \(maxBytes) are allowed")
            return nil
        }
        return text
    }

    public mutating func bool(_ node: Node?, _ path: String) -> Bool? {
        guard let text = string(node, path) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            fail(node, path, "'\(text)' is not true/false (on/off)")
            return nil
        }
    }

    public mutating func duration(_ node: Node?, _ path: String, in range: ClosedRange<Duration>) -> Duration? {
        guard let text = string(node, path) else { return nil }
        do { return try DurationText.parse(text, in: range) } catch {
            fail(node, path, error.description)
            return nil
        }
    }

    public mutating func list(_ node: Node?, _ path: String) -> [Node] {
        guard let node else { return [] }
        guard case .sequence(let sequence) = node else {
            fail(node, path, "expected a list")
            return []
        }
        guard visit(sequence.count, at: node, path) else { return [] }
        return Array(sequence)
    }

    /// The allowed name a mistyped one most likely meant: at most two edits away.
    public static func nearest(_ given: String, among allowed: [String]) -> String? {
        allowed.min { distance($0, given) < distance($1, given) }.flatMap { distance($0, given) <= 2 ? $0 : nil }
    }

    private static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}
