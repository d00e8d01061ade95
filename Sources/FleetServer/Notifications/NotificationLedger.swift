import Logging
import PostgresNIO

/// What the notify handler writes after each attempt: the receiver's last delivery or last
/// error (`GET /v1/admin/receivers`), and, once the job is over (delivered, dead, or failed
/// its last attempt), that its group may flush again, so a group's messages never overtake
/// each other. Its failures are logged, never raised: the delivery already happened.
public struct NotificationLedger: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    func record(_ result: JobResult, of job: ClaimedJob, args: NotifyJobArgs) async {
        let error: String? = switch result {
        case .completed: nil
        case .retry(let error, _), .dead(let error): String(error.prefix(500))
        }
        let over: Bool = switch result {
        case .completed, .dead: true
        case .retry: job.attempt >= job.maxAttempts
        }
        do {
            if let error {
                try await client.query("""
                    INSERT INTO notify_receivers (receiver, last_error, last_error_ms) VALUES (\(args.receiver), \(error), (extract(epoch FROM clock_timestamp()) * 1000)::int8)
                    ON CONFLICT (receiver) DO UPDATE SET last_error = EXCLUDED.last_error, last_error_ms = EXCLUDED.last_error_ms
                    """, logger: logger)
            } else {
                try await client.query("""
                    INSERT INTO notify_receivers (receiver, last_delivered_ms) VALUES (\(args.receiver), (extract(epoch FROM clock_timestamp()) * 1000)::int8)
                    ON CONFLICT (receiver) DO UPDATE SET last_delivered_ms = EXCLUDED.last_delivered_ms
                    """, logger: logger)
            }
            if over, args.groupID != 0 {
                try await client.query("""
                    UPDATE notify_groups SET in_flight = NULL WHERE id = \(args.groupID) AND in_flight = \(args.uniqueKey)
                    """, logger: logger)
            }
        } catch {
            logger.error("could not record a notification's outcome", metadata: [
                "receiver": "\(args.receiver)", "job": "\(job.id)", "error": "\(String(reflecting: error))",
            ])
        }
    }

}
