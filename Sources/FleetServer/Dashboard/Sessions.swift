import Foundation
import Synchronization

/// A signed-in operator.
struct DashboardSession: Sendable, Hashable {
    /// `admin`, or the operator's name from the operator tokens file.
    var operatorName: String
    /// Every form carries it; a POST whose `csrf` field differs is refused.
    var csrfToken: String
    var expires: ContinuousClock.Instant
}

/// Sessions in the server's memory, keyed by the SHA-256 of the cookie's value (a memory
/// dump shows no usable cookie). Memory rather than PostgreSQL: a session is cheap to make
/// again (sign in), there is nothing to clean up in the database, and a restart signing
/// everyone out is acceptable for an operator console. Several servers behind one address
/// need sticky sessions. Bounded: expired sessions go first, then the oldest.
final class SessionStore: Sendable {
    private let sessions = Mutex<[TokenHash: DashboardSession]>([:])
    let lifetime: Duration
    let limit: Int

    init(lifetime: Duration, limit: Int) {
        self.lifetime = lifetime
        self.limit = limit
    }

    /// Starts a session; returns the cookie value.
    func start(operatorName: String, now: ContinuousClock.Instant = .now) -> (cookie: String, session: DashboardSession) {
        let cookie = DeviceToken.generate()
        let session = DashboardSession(operatorName: operatorName, csrfToken: DeviceToken.generate(), expires: now + lifetime)
        sessions.withLock { sessions in
            if sessions.count >= limit {
                sessions = sessions.filter { $0.value.expires > now }
                if sessions.count >= limit, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires }) {
                    sessions[oldest.key] = nil
                }
            }
            sessions[TokenHash(of: cookie)] = session
        }
        return (cookie, session)
    }

    /// The live session for `cookie`, or `nil` (unknown or expired; an expired one is dropped).
    func session(_ cookie: String?, now: ContinuousClock.Instant = .now) -> DashboardSession? {
        guard let cookie else { return nil }
        let key = TokenHash(of: cookie)
        return sessions.withLock { sessions in
            guard let session = sessions[key] else { return nil }
            guard session.expires > now else {
                sessions[key] = nil
                return nil
            }
            return session
        }
    }

    func end(_ cookie: String?) {
        guard let cookie else { return }
        _ = sessions.withLock { $0.removeValue(forKey: TokenHash(of: cookie)) }
    }

    var count: Int { sessions.withLock { $0.count } }
}

/// The cookies the dashboard sets and reads.
enum DashboardCookie {
    static let session = "reef_session"
    /// The sign-in form's own CSRF token (double-submit): there is no session to keep it in yet.
    static let signIn = "reef_signin"

    /// HttpOnly (no script reads it), Secure (HTTPS only; a TLS-terminating proxy still
    /// serves the browser HTTPS), SameSite=Strict (no other site's page sends it), scoped to
    /// the dashboard.
    static func set(_ name: String, _ value: String, maxAge: Int) -> String {
        "\(name)=\(value); Path=/dashboard; Max-Age=\(maxAge); HttpOnly; Secure; SameSite=Strict"
    }

    static func clear(_ name: String) -> String { set(name, "", maxAge: 0) }

    /// The value of cookie `name` in a `Cookie:` header.
    static func value(_ name: String, in header: String?) -> String? {
        guard let header else { return nil }
        for pair in header.split(separator: ";") {
            let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == name { return String(parts[1]) }
        }
        return nil
    }
}

/// Constant-time comparison of two secrets (CSRF tokens), through their hashes.
func sameSecret(_ a: String, _ b: String) -> Bool { TokenHash(of: a).matches(TokenHash(of: b)) }
