import EdgeCore
import Foundation
import Yams

/// Where profiles and agent.yaml come from: a bounded regular file of UTF-8 text, checked by
/// YAMLGuard and composed by Yams, with every failure a `ProfileError` at its line and column.
/// Both files go through here, so both refuse the same hostile input the same way.
public enum YAMLSource {
    /// The file's bytes: a regular file of at most `maxBytes`. `noun` names it in errors
    /// ("the profile", "the file").
    public static func data(path: String, maxBytes: Int, noun: String) -> Result<Data, ProfileError> {
        let message: String
        switch BoundedFile.read(path: path, maxBytes: maxBytes) {
        case .success(let data): return .success(data)
        case .failure(.unreadable): message = "cannot read \(noun) (does it exist, and may this user read it?)"
        case .failure(.notARegularFile): message = "not a regular file"
        case .failure(.tooLarge(let bytes)): message = "\(noun) is \(bytes) bytes; at most \(maxBytes) are read"
        }
        return .failure(ProfileError(file: path, key: "", message: message))
    }

    /// The file as UTF-8 text; the first invalid byte is an error at its line.
    public static func text(path: String, maxBytes: Int, noun: String) -> Result<String, ProfileError> {
        data(path: path, maxBytes: maxBytes, noun: noun).flatMap { data in
            if let text = String(validating: data, as: UTF8.self) { return .success(text) }
            let (line, offset) = UTF8Check.firstInvalid(data)
            return .failure(ProfileError(file: path, line: line, key: "",
                                         message: "\(noun) is not UTF-8 text (invalid byte at offset \(offset)); save it as UTF-8"))
        }
    }

    /// The document's root node (nil for an empty document), after the nesting guard.
    public static func compose(_ text: String, file: String) -> Result<Node?, ProfileError> {
        if let (line, message) = YAMLGuard.nestingProblem(text) {
            return .failure(ProfileError(file: file, line: line, key: "", message: message))
        }
        do {
            return .success(try Yams.compose(yaml: text))
        } catch let error as YamlError {
            let problem = YAMLProblem(error)
            return .failure(ProfileError(file: file, line: problem.line, column: problem.column, key: "", message: problem.message))
        } catch {
            return .failure(ProfileError(file: file, key: "", message: "not valid YAML: \(error)"))
        }
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
