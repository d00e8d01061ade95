import Foundation

/// What the agent may show of a sync URL, and whether it names this machine.
public enum SyncURL {
    /// The URL with any `user:password@` replaced by `***@`, for logs and status: a
    /// password written into the URL must never reach the journal or a terminal.
    /// Text with an `@` but no scheme (`user:pw@host`) is hidden whole: there is no telling
    /// where its credentials end.
    public static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url.contains("@") ? "***" : url }
        let authorityStart = schemeEnd.upperBound
        let authorityEnd = url[authorityStart...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? url.endIndex
        guard let at = url[authorityStart..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<authorityStart]) + "***" + String(url[at...])
    }

    /// Whether the URL's host is a loopback address (`localhost`, 127.0.0.0/8, `::1`), the
    /// only place plain `http://` may go: nothing then leaves the machine.
    public static func isLoopback(_ url: String) -> Bool {
        guard let host = URLComponents(string: url)?.host?.lowercased() else { return false }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare == "::1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ $0.count <= 3 && UInt8($0) != nil }) else { return false }
        return octets[0] == "127"
    }
}
