import EdgeCore
import Logging
import NIOSSL
import PostgresNIO

/// One login to PostgreSQL before anything else, so a wrong password or host is a clear
/// error at once. The pool `PostgresClient` keeps behind it retries a failing login with
/// backoff for as long as anyone waits, which made `fleet-server migrate` with a wrong
/// password retry forever.
public enum DatabaseCheck {
    /// Connects once with the URL's settings and closes again; throws a
    /// `ConfigurationError` that says what PostgreSQL answered and what to check.
    public static func login(url: String, logger: Logger, timeout: Duration = .seconds(10)) async throws {
        let parsed = try PostgresURL(url)
        let tls: PostgresConnection.Configuration.TLS = switch parsed.sslMode {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(host: parsed.host, port: parsed.port, username: parsed.username,
                                                              password: parsed.password, database: parsed.database, tls: tls)
        configuration.options.connectTimeout = TimeAmount(timeout)
        let settings = configuration
        let place = "PostgreSQL at \(parsed.host):\(parsed.port)"
        do {
            let connection = try await withDeadline(timeout) {
                try await PostgresConnection.connect(configuration: settings, id: 1, logger: logger)
            }
            try await connection.close()
        } catch is DeadlineExceeded {
            throw ConfigurationError("\(place) did not complete a login within \(timeout.secondsText) s; check the host and port in the postgres URL")
        } catch let error as PSQLError {
            if let state = error.serverInfo?[.sqlState] {
                let message = error.serverInfo?[.message] ?? "no message"
                let hint = switch state {
                case "28P01", "28000": "check the user and password in --postgres-url or FLEET_POSTGRES_URL"
                case "3D000": "create the database first (createdb) or fix its name in the postgres URL"
                default: "see PostgreSQL's log"
                }
                throw ConfigurationError("\(place) refused user \"\(parsed.username)\": \(message) (SQLSTATE \(state)); \(hint)")
            }
            throw ConfigurationError("cannot reach \(place): \(error.underlying.map { "\($0)" } ?? "\(error.code)")")
        }
    }
}
