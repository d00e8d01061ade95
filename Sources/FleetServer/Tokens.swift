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
