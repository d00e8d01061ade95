#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A target's secret (bearer token, bot token, application token, SMTP password), kept in a
/// file only the agent's user can read, as Sync's device token is. Read at each send, so a
/// rotated token is used without a restart.
///
/// No error here ever includes the file's contents: an error is logged, shown by
/// `check-config` and kept as a target's last error.
public enum CredentialFile {
    /// Secrets are short; a larger file is a mistake (a key, a log) and is refused.
    public static let maxBytes = 4096

    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var path: String
        /// What is wrong and what to do, with the path.
        public var description: String
    }

    /// The secret: the file's text with surrounding whitespace (a trailing newline) removed.
    /// The mode is not checked here (check-config reports it, `problem(path:)`): a target
    /// keeps sending while its owner fixes a permission.
    public static func read(path: String) throws(Failure) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Failure(path: path, description: missing(path, errno)) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw Failure(path: path, description: "credential file \(path) is not a regular file; put the secret in a plain file")
        }
        guard info.st_size <= maxBytes else { throw Failure(path: path, description: tooLarge(path, Int(info.st_size))) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(path: path, description: unreadable(path))
        }
        guard data.count <= maxBytes else { throw Failure(path: path, description: tooLarge(path, data.count)) }
        let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty else {
            throw Failure(path: path, description: "credential file \(path) is empty; write the secret into it on one line")
        }
        return secret
    }

    /// What check-config reports about `path`, or nil when it is fine: missing, unreadable,
    /// too large, empty, or readable or writable by group or others (`chmod 600`).
    public static func problem(path: String) -> String? {
        do {
            _ = try read(path: path)
        } catch {
            return error.description
        }
        var info = stat()
        guard stat(path, &info) == 0 else { return missing(path, errno) }
        let permissions = UInt32(info.st_mode) & 0o777
        if permissions & 0o077 != 0 {
            return "credential file \(path) has mode \(String(permissions, radix: 8)); others on the device could read the secret. Run `chmod 600 \(path)`"
        }
        return nil
    }

    private static func missing(_ path: String, _ code: Int32) -> String {
        if code == ENOENT {
            return "credential file \(path) does not exist; create it with the secret on one line, then `chmod 600 \(path)`"
        }
        return "cannot read credential file \(path): \(String(cString: strerror(code)))"
    }

    private static func unreadable(_ path: String) -> String {
        "credential file \(path) cannot be read by this user; make the agent's user own it (`chown edge-agent \(path)`) and `chmod 600 \(path)`"
    }

    private static func tooLarge(_ path: String, _ bytes: Int) -> String {
        "credential file \(path) is \(bytes) bytes; a secret is at most \(maxBytes). Put only the token or password in it"
    }
}
