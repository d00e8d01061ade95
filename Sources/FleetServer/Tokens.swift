import Crypto
import Foundation

/// The SHA-256 of a bearer token: all the server ever stores or compares. Tokens are 256
/// random bits, so an unsalted fast hash is enough: there is nothing to guess from it.
public struct TokenHash: Sendable, Hashable {
    public let bytes: [UInt8]

    public init(of token: String) {
        bytes = Array(SHA256.hash(data: Data(token.utf8)))
    }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Constant-time, so the admin token cannot be found byte by byte from response times.
    public func matches(_ other: TokenHash) -> Bool {
        guard bytes.count == other.bytes.count else { return false }
        return zip(bytes, other.bytes).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

public enum DeviceToken {
    /// 32 random bytes as 64 hex digits: printed once by `devices add`, never stored.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    /// The token in an `Authorization: Bearer …` header, or `nil`.
    static func bearer(_ header: String?) -> String? {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}

/// The read API's token file, held to the same rule as a device's token file: a regular
/// file no one but its owner can read (mode 0600 or 0400), one token of at least 16
/// printable characters.
public enum AdminToken {
    public static func load(path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ConfigurationError("cannot read the admin token file \(path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ConfigurationError("the admin token file \(path) is not a regular file") }
        let permissions = UInt32(info.st_mode) & 0o777
        guard permissions & 0o077 == 0 else {
            throw ConfigurationError(
                "the admin token file \(path) has mode \(String(permissions, radix: 8)); others could read the admin token. Run `chmod 600 \(path)`")
        }
        guard info.st_size <= 4096 else {
            throw ConfigurationError("the admin token file \(path) is \(info.st_size) bytes; put only the token in it")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read the admin token file \(path): \(String(cString: strerror(errno)))")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= 16 else { throw ConfigurationError("the admin token in \(path) is shorter than 16 characters") }
        guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ConfigurationError("the admin token in \(path) holds whitespace or control characters")
        }
        return token
    }
}
