import AlertEngine
import Foundation
import HAL
import Yams

extension DeviceProfile {
    /// Reads and validates a profile; throws every error at once, each with file, line, key
    /// and what is allowed there.
    public static func load(path: String) throws(ProfileErrors) -> DeviceProfile {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ProfileErrors(errors: [ProfileError(file: path, line: nil, column: nil, key: "",
                                                      message: "cannot read the profile (does it exist, and may this user read it?)")])
        }
        return try parse(yaml: text, file: path)
    }

    public static func parse(yaml text: String, file: String) throws(ProfileErrors) -> DeviceProfile {
        var reader = Reader(file: file)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ProfileErrors(errors: [ProfileError(file: file, line: 1, column: 1, key: "", message: "the profile is empty")])
            }
            root = node
        } catch let errors as ProfileErrors {
            throw errors
        } catch let error as YamlError {
            var line: Int?, column: Int?
            switch error {
            case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
                line = mark.line; column = mark.column
            default: break
            }
            throw ProfileErrors(errors: [ProfileError(file: file, line: line, column: column, key: "",
                                                      message: "not valid YAML: \(error)")])
        } catch {
            throw ProfileErrors(errors: [ProfileError(file: file, line: nil, column: nil, key: "", message: "not valid YAML: \(error)")])
        }
        let profile = reader.profile(root)
        guard reader.errors.isEmpty, let profile else { throw ProfileErrors(errors: reader.errors) }
        return profile
    }
}

/// Typed reads from YAML nodes that record errors and go on, so one pass finds them all.
struct Reader {
    let file: String
    var errors: [ProfileError] = []

    mutating func fail(_ node: Node?, _ key: String, _ message: String) {
        errors.append(ProfileError(file: file, line: node?.mark?.line, column: node?.mark?.column, key: key, message: message))
    }

    /// A mapping's entries, with unknown keys reported (and a "did you mean").
    mutating func fields(_ node: Node, _ path: String, allowed: [String]) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            fail(node, path, "expected a mapping with keys \(allowed.joined(separator: ", "))")
            return nil
        }
        var out: [String: Node] = [:]
        for pair in mapping {
            guard let key = pair.key.string else { continue }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if !allowed.contains(key) {
                let hint = allowed.min { distance($0, key) < distance($1, key) }.flatMap { distance($0, key) <= 2 ? " (did you mean '\($0)'?)" : nil } ?? ""
                fail(pair.key, keyPath, "unknown key\(hint); allowed here: \(allowed.joined(separator: ", "))")
                continue
            }
            out[key] = pair.value
        }
        return out
    }

    mutating func require(_ fields: [String: Node], _ key: String, _ path: String, in node: Node) -> Node? {
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

    mutating func string(_ node: Node?, _ path: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            fail(node, path, "expected a single value")
            return nil
        }
        return scalar.string
    }

    mutating func double(_ node: Node?, _ path: String) -> Double? {
        guard let text = string(node, path) else { return nil }
        guard let value = Double(text), value.isFinite else {
            fail(node, path, "'\(text)' is not a number")
            return nil
        }
        return value
    }

    mutating func int(_ node: Node?, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, path) else { return nil }
        let value = text.hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
        guard let value, range.contains(value) else {
            fail(node, path, "'\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node?, _ path: String) -> Bool? {
        guard let text = string(node, path) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            fail(node, path, "'\(text)' is not true/false (on/off)")
            return nil
        }
    }

    mutating func duration(_ node: Node?, _ path: String) -> Duration? {
        guard let text = string(node, path) else { return nil }
        guard let value = Durations.parse(text) else {
            fail(node, path, "'\(text)' is not a duration; write e.g. 500ms, 10s, 5m, 2h or 7d")
            return nil
        }
        return value
    }

    mutating func list(_ node: Node?, _ path: String) -> [Node] {
        guard let node else { return [] }
        guard case .sequence(let sequence) = node else {
            fail(node, path, "expected a list")
            return []
        }
        return Array(sequence)
    }

    private func distance(_ a: String, _ b: String) -> Int {
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

/// `500ms`, `10s`, `5m`, `2h`, `7d`, or combined `1h30m`.
public enum Durations {
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total = Duration.zero
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard let number = Double(digits), number >= 0 else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m", "min": scale = 60
            case "h": scale = 3_600
            case "d": scale = 86_400
            case "w": scale = 604_800
            default: return nil
            }
            total += .milliseconds(Int64((number * scale * 1_000).rounded()))
        }
        return total
    }
}
