#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A device's bearer token, read from a file only its owner can read.
///
/// Its `description` never shows the value, so that logging a configuration, an error or
/// a transport cannot leak it.
public struct BearerToken: Sendable, Hashable, CustomStringConvertible {
    /// Tokens are short; a larger file is a mistake (a key, a log) and is refused.
    public static let maxFileBytes = 4096

    let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "BearerToken(<redacted>)" }

    public enum LoadError: Error, Equatable, CustomStringConvertible {
        case unreadable(path: String, errno: Int32)
        case tooOpen(path: String, mode: UInt32)
        case notARegularFile(path: String)
        case tooLarge(path: String, bytes: Int)
        case empty(path: String)
        case invalidCharacters(path: String)

        public var description: String {
            switch self {
            case .unreadable(let path, let code):
                "cannot read token file \(path): \(String(cString: strerror(code)))"
            case .tooOpen(let path, let mode):
                "token file \(path) has mode \(String(mode, radix: 8)); others could read the device's token. Run `chmod 600 \(path)`"
            case .notARegularFile(let path):
                "token file \(path) is not a regular file"
            case .tooLarge(let path, let bytes):
                "token file \(path) is \(bytes) bytes; a token is at most \(BearerToken.maxFileBytes). Put only the token printed by `fleet-server devices add` in it"
            case .empty(let path):
                "token file \(path) is empty; put the token printed by `fleet-server devices add` in it"
            case .invalidCharacters(let path):
                "token file \(path) holds characters a bearer token cannot have (whitespace or control characters inside the token)"
            }
        }
    }

    /// Reads the token from `path`, which must be a regular file with no group or other
    /// permissions (mode 0600 or 0400). Surrounding whitespace (a trailing newline) is ignored.
    public static func load(path: String) throws(LoadError) -> BearerToken {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .unreadable(path: path, errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .notARegularFile(path: path) }
        let permissions = UInt32(info.st_mode) & 0o777
        guard permissions & 0o077 == 0 else { throw .tooOpen(path: path, mode: permissions) }
        guard info.st_size <= maxFileBytes else { throw .tooLarge(path: path, bytes: Int(info.st_size)) }
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path, errno: errno) }
        guard data.count <= maxFileBytes else { throw .tooLarge(path: path, bytes: data.count) }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw .empty(path: path) }
        guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw .invalidCharacters(path: path)
        }
        return BearerToken(token)
    }
}
