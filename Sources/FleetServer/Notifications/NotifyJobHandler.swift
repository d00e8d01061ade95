import EdgeCore
import Foundation
import Logging
import NotifyDelivery
import PostgresNIO

/// Sends one `notify` job (`NotifyJobArgs`) to its receiver: renders it with NotifyDelivery
/// for the receiver's kind, reads the credential file now (so a rotated token needs no
/// restart; the secret is never logged and never in the job), and sends it under the job's
/// idempotency key through the transport the device uses (libcurl, off the cooperative pool).
///
/// What the receiver answered becomes the job's result through `DeliveryOutcome.verdict`, the
/// device's own rules: 5xx, 408, 429, timeouts and network errors are retried, never sooner
/// than a `Retry-After`; any other 4xx (and SMTP 5yz) is dead at once with the receiver's reason.
public struct NotifyJobHandler: JobHandler {
    public var kind: String { NotifyJobArgs.kind }
    let receivers: [String: NotificationReceiver]
    let transport: any NotifyTransport
    let ledger: NotificationLedger?
    let logger: Logger
    /// The longest `Retry-After` honoured.
    let retryAfterCap: Duration

    /// - Parameter ledger: records each receiver's last delivery and error and frees the
    ///   group for its next flush once the job is over; nil only in tests of the handler alone.
    public init(settings: NotificationSettings, transport: any NotifyTransport = CurlNotifyTransport(),
                ledger: NotificationLedger?, logger: Logger, retryAfterCap: Duration = .seconds(3600)) {
        receivers = Dictionary(settings.receivers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.transport = transport
        self.ledger = ledger
        self.logger = logger
        self.retryAfterCap = retryAfterCap
    }

    public func perform(_ job: ClaimedJob) async -> JobResult {
        let args: NotifyJobArgs
        do {
            args = try NotifyJobArgs.decode(job.args)
        } catch {
            return .dead(error: "the job's arguments are not a notify job's (\(error)); cancel it")
        }
        let result = await deliver(args, job: job)
        switch result {
        case .completed:
            logger.info("notification delivered", metadata: ["receiver": "\(args.receiver)", "job": "\(job.id)", "attempt": "\(job.attempt)"])
        case .retry(let error, _), .dead(let error):
            logger.warning("notification not delivered", metadata: [
                "receiver": "\(args.receiver)", "job": "\(job.id)", "attempt": "\(job.attempt)", "error": "\(error)",
            ])
        }
        await ledger?.record(result, of: job, args: args)
        return result
    }

    private func deliver(_ args: NotifyJobArgs, job: ClaimedJob) async -> JobResult {
        guard let receiver = receivers[args.receiver] else {
            return .dead(error: "no receiver named \"\(args.receiver)\" in the configuration; add it back and retry the job, or cancel it")
        }
        let target = receiver.target
        var credential: String?
        if let path = receiver.credentialFile {
            do {
                credential = try CredentialFile.read(path: path)
            } catch {
                // A file being fixed: retried, as the device keeps trying.
                return .retry(error: error.description, notBeforeSeconds: nil)
            }
        }
        let payload = args.message.payload(target: target, credential: credential, idempotencyKey: job.idempotencyKey)
        let answer = await transport.send(payload, to: target, credential: credential)
        switch answer.outcome.verdict(nowMillis: Int64(Date().timeIntervalSince1970 * 1000), retryAfterCap: retryAfterCap) {
        case .delivered:
            return .completed
        case .retry(let reason, let notBefore):
            return .retry(error: reason, notBeforeSeconds: notBefore.map { Double($0.saturatingMillis) / 1000 })
        case .permanent(_, _, let text):
            return .dead(error: text)
        }
    }
}
