import AlertEngine
import EdgeCore
import Foundation
import HAL
import Yams

extension DeviceProfile {
    /// Reads and validates a profile; throws every error at once, each with file, line, key
    /// and what is allowed there.
    public static func load(path: String) throws(ProfileErrors) -> DeviceProfile {
        let data = try read(path: path)
        guard let text = String(validating: data, as: UTF8.self) else {
            let (line, offset) = UTF8Check.firstInvalid(data)
            throw ProfileErrors(errors: [ProfileError(file: path, line: line, column: nil, key: "",
                                                      message: "the profile is not UTF-8 text (invalid byte at offset \(offset)); save it as UTF-8")])
        }
        return try parse(yaml: text, file: path)
    }

    /// The file's bytes: a regular file of at most `maxFileBytes`.
    static func read(path: String) throws(ProfileErrors) -> Data {
        let message: String
        switch BoundedFile.read(path: path, maxBytes: maxFileBytes) {
        case .success(let data): return data
        case .failure(.unreadable): message = "cannot read the profile (does it exist, and may this user read it?)"
        case .failure(.notARegularFile): message = "not a regular file"
        case .failure(.tooLarge(let bytes)): message = "the profile is \(bytes) bytes; at most \(maxFileBytes) are read"
        }
        throw ProfileErrors(errors: [ProfileError(file: path, line: nil, column: nil, key: "", message: message)])
    }

    /// Far more than any board's profile (40 000 sensors are about 4 MB); a larger file is not a profile.
    public static let maxFileBytes = 16 * 1024 * 1024

    public static func parse(yaml text: String, file: String) throws(ProfileErrors) -> DeviceProfile {
        var reader = Reader(file: file)
        if let (line, message) = YAMLGuard.nestingProblem(text) {
            throw ProfileErrors(errors: [ProfileError(file: file, line: line, column: nil, key: "", message: message)])
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ProfileErrors(errors: [ProfileError(file: file, line: 1, column: 1, key: "", message: "the profile is empty")])
            }
            root = node
        } catch let errors as ProfileErrors {
            throw errors
        } catch let error as YamlError {
            let problem = YAMLProblem(error)
            throw ProfileErrors(errors: [ProfileError(file: file, line: problem.line, column: problem.column, key: "", message: problem.message)])
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
    /// Nodes left to visit: aliases can make a short file a tree of billions (YAMLGuard).
    private var budget = YAMLGuard.maxNodes

    init(file: String) { self.file = file }

    /// Spends `count` of the node budget; false (after reporting it once) when it is spent,
    /// and once the error cap is reached, so a hostile file stops being read early.
    mutating func visit(_ count: Int, at node: Node, _ path: String) -> Bool {
        guard budget > 0, errors.count < YAMLGuard.maxErrors else { return false }
        budget -= count
        if budget <= 0 { fail(node, path, "more than \(YAMLGuard.maxNodes) values (aliases expanding?); a profile needs far fewer") }
        return budget > 0
    }

    mutating func fail(_ node: Node?, _ key: String, _ message: String) {
        guard errors.count < YAMLGuard.maxErrors else { return }
        if errors.count == YAMLGuard.maxErrors - 1 {
            errors.append(ProfileError(file: file, line: node?.mark?.line, column: node?.mark?.column, key: key,
                                       message: "more than \(YAMLGuard.maxErrors) errors; fix these first"))
            return
        }
        errors.append(ProfileError(file: file, line: node?.mark?.line, column: node?.mark?.column, key: key, message: message))
    }

    /// A mapping's entries, with unknown keys reported (and a "did you mean").
    mutating func fields(_ node: Node, _ path: String, allowed: [String]) -> [String: Node]? {
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

    /// A finite number in `range` (NaN, infinity and overflowing literals never pass).
    mutating func double(_ node: Node?, _ path: String, in range: ClosedRange<Double>) -> Double? {
        guard let text = string(node, path) else { return nil }
        do { return try NumberText.finite(text, in: range) } catch {
            fail(node, path, error.description)
            return nil
        }
    }

    mutating func int(_ node: Node?, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, path) else { return nil }
        do { return try NumberText.integer(text, in: range) } catch {
            fail(node, path, error.description)
            return nil
        }
    }

    /// Text of at most `maxBytes` UTF-8 bytes (ids, units, descriptions).
    mutating func text(_ node: Node?, _ path: String, maxBytes: Int) -> String? {
        guard let text = string(node, path) else { return nil }
        guard text.utf8.count <= maxBytes else {
            fail(node, path, "is \(text.utf8.count) bytes; at most \(maxBytes) are allowed")
            return nil
        }
        return text
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

    mutating func duration(_ node: Node?, _ path: String, in range: ClosedRange<Duration>) -> Duration? {
        guard let text = string(node, path) else { return nil }
        do { return try DurationText.parse(text, in: range) } catch {
            fail(node, path, error.description)
            return nil
        }
    }

    mutating func list(_ node: Node?, _ path: String) -> [Node] {
        guard let node else { return [] }
        guard case .sequence(let sequence) = node else {
            fail(node, path, "expected a list")
            return []
        }
        guard visit(sequence.count, at: node, path) else { return [] }
        return Array(sequence)
    }

    /// The allowed name a mistyped one most likely meant: at most two edits away.
    static func nearest(_ given: String, among allowed: [String]) -> String? {
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

/// Where a YAML error is and what it says, without the whole document Yams puts in some
/// of its descriptions (a duplicate key's error carries the entire file).
public struct YAMLProblem: Sendable, Hashable {
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(_ error: YamlError) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            (line, column, message) = (mark.line, mark.column, "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams reports the first duplicated key where it first appears.
            (line, column) = (context.mark.line, context.mark.column)
            message = "not valid YAML: key '\(duplicates.first ?? "")' is given more than once in this mapping (first here)"
        case .reader(let problem, let offset, _, let yaml):
            // The reader reports a byte offset; the line is what a person looks for.
            line = offset.map { offset in yaml.utf8.prefix(offset).reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 } }
            column = nil
            message = "not valid YAML: \(problem)\(offset.map { " (byte \($0))" } ?? "")"
        default:
            (line, column, message) = (nil, nil, "not valid YAML: \(error)")
        }
    }
}
