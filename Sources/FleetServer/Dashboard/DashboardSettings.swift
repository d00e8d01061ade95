import Foundation

/// What the dashboard and `/metrics` need beyond the read API's settings.
public struct DashboardSettings: Sendable {
    /// Named operator tokens (name → hash) that may sign in besides the admin token, so a
    /// sign-in log says who it was. From `OperatorTokens.load(path:)`.
    public var operators: [String: TokenHash] = [:]
    /// The token `/metrics` wants as `Authorization: Bearer`; `nil` turns `/metrics` off.
    public var metricsTokenHash: TokenHash?
    /// A session ends this long after sign-in, whatever it does meanwhile.
    public var sessionLifetime: Duration = .seconds(12 * 3600)
    /// Sessions held at once; the oldest is dropped past it, so sign-ins cannot grow memory.
    public var maxSessions: Int = 1_000

    public init() {}

    /// The first setting that cannot work, or `nil`.
    public func validationError() -> String? {
        if sessionLifetime < .seconds(60) || sessionLifetime > .seconds(30 * 86_400) {
            return "dashboard sessionLifetime must be from 60 s to 30 days"
        }
        if !(1...100_000).contains(maxSessions) { return "dashboard maxSessions must be from 1 to 100000" }
        return nil
    }
}

/// A secret file held to the admin token file's rule: a regular file no one but its owner
/// can read (mode 0600 or 0400), small. `role` names it in errors.
enum SecretFile {
    static func read(_ path: String, role: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ConfigurationError("cannot read the \(role) file \(path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ConfigurationError("the \(role) file \(path) is not a regular file") }
        let permissions = UInt32(info.st_mode) & 0o777
        guard permissions & 0o077 == 0 else {
            throw ConfigurationError("the \(role) file \(path) has mode \(String(permissions, radix: 8)); others could read it. Run `chmod 600 \(path)`")
        }
        guard info.st_size <= 65_536 else { throw ConfigurationError("the \(role) file \(path) is \(info.st_size) bytes; at most 65536") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("cannot read the \(role) file \(path): \(String(cString: strerror(errno)))")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// A token of at least 16 printable characters.
    static func checkToken(_ token: String, _ where_: String) throws {
        guard token.count >= 16 else { throw ConfigurationError("the token \(where_) is shorter than 16 characters") }
        guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ConfigurationError("the token \(where_) holds whitespace or control characters")
        }
    }
}

/// `/metrics`' token file: one token, like the admin token file.
public enum MetricsToken {
    public static func load(path: String) throws -> TokenHash {
        let token = try SecretFile.read(path, role: "metrics token").trimmingCharacters(in: .whitespacesAndNewlines)
        try SecretFile.checkToken(token, "in \(path)")
        return TokenHash(of: token)
    }
}

/// The operator tokens file: one `name token` per line (`#` starts a comment), mode 0600.
/// Names are what the sign-in log and the dashboard's header show.
public enum OperatorTokens {
    public static func load(path: String) throws -> [String: TokenHash] {
        try parse(try SecretFile.read(path, role: "operator tokens"), source: path)
    }

    static func parse(_ text: String, source: String) throws -> [String: TokenHash] {
        var operators: [String: TokenHash] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let place = "\(source) line \(index + 1)"
            guard fields.count == 2 else { throw ConfigurationError("\(place) is not `name token`") }
            let name = String(fields[0])
            guard (1...64).contains(name.count), name.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
                throw ConfigurationError("\(place): operator name \"\(name)\" must be 1–64 letters, digits, '.', '_' or '-'")
            }
            guard operators[name] == nil else { throw ConfigurationError("\(place): operator \(name) is named twice") }
            try SecretFile.checkToken(String(fields[1]), "on \(place)")
            operators[name] = TokenHash(of: String(fields[1]))
        }
        return operators
    }
}
