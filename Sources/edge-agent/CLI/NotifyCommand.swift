import AlertEngine
import ArgumentParser
import EdgeCore
import Foundation
import Notify
import NotifyDelivery
import Readings
import Wire

/// `edge-agent notify status|requeue|test`: what a keeper asks of the notification targets
/// configured in agent.yaml — is my phone getting alerts, send the refused ones again, does
/// the setup work at all.
struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Notification targets: delivery status, re-queue dead letters, send a test message.",
        subcommands: [NotifyStatusCommand.self, NotifyRequeueCommand.self, NotifyTestCommand.self])
}

/// A target id as typed on the command line; `validate()` refuses one agent.yaml could not
/// hold before anything is opened.
struct NotifyTargetArgument: ExpressibleByArgument, Sendable {
    let id: String

    init?(argument: String) { id = argument }

    func validate() throws {
        guard id.utf8.count <= AgentConfig.Notify.idBytes, NotifyTarget.isValidID(id) else {
            throw ValidationError("'\(id)' is not a target id: ids are lower-case letters, digits, '-' or '_' (see `edge-agent notify status`)")
        }
    }
}

extension AgentConfig.Notify {
    /// The configured target named `id`, or every target without one; an error listing the
    /// ids there are for an unknown one, and one naming the section's problems without any.
    func selected(_ id: String?, source: String) throws -> [NotifyTarget] {
        guard !targets.isEmpty else {
            throw CLIError("no notify targets in \(source); add a notify: section (docs/NOTIFY.md)"
                + (problems.isEmpty ? "" : "; its problems: " + problems.joined(separator: "; ")))
        }
        guard let id else { return targets }
        guard let target = targets.first(where: { $0.id == id }) else {
            throw CLIError("no notify target '\(id)' in \(source); configured: \(targets.map(\.id).joined(separator: ", "))")
        }
        return [target]
    }
}

struct NotifyStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Per target: last delivered, pending events, dead letters, last error, next attempt.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let config = try global.load()
        let targets = try config.notify.selected(nil, source: config.source)
        let database = try DataPaths(config).openReadOnly()
        let reports = try await DataPaths.reading(database) {
            try NotifyTargetReport.read(targets, database: database, nowMillis: SystemDeviceClock().now().unixMillis)
        }
        if json {
            Console.write(try NotifyTargetReport.json(reports))
        } else {
            Console.write(NotifyTargetReport.render(reports, problems: config.notify.problems))
        }
    }
}

struct NotifyRequeueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requeue",
        abstract: "Send a target's dead letters again; the running daemon picks them up on its next pass.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The target's id in agent.yaml.") var target: NotifyTargetArgument

    func validate() throws { try target.validate() }

    func run() async throws {
        let config = try global.load()
        let target = try config.notify.selected(target.id, source: config.source)[0]
        // Written while the daemon may run: the busy timeout waits out its transactions (WAL).
        let database = try DataPaths(config).openExisting()
        let count = try await DataPaths.reading(database) { () throws -> Int in
            guard let ledger = try NotifyLedger(existing: database.writer) else { return 0 }
            do {
                return try ledger.requeue(target: target.id, nowMillis: SystemDeviceClock().now().unixMillis)
            } catch NotifyLedgerError.unknownTarget {
                return 0  // The daemon has not started this target yet: it has no dead letters.
            }
        }
        Console.write("re-queued \(NotifyTargetReport.count(count, "dead letter")) of \(target.id)"
            + (count == 0 ? "\n" : "; the daemon sends them again before new events\n"))
    }
}

struct NotifyTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Send a test message to one target, or every one, and print what each service answered; exit 1 if any failed.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The target's id in agent.yaml (default: every target).") var target: NotifyTargetArgument?

    func validate() throws { try target?.validate() }

    func run() async throws {
        let config = try global.load()
        let targets = try config.notify.selected(target?.id, source: config.source)
        for problem in config.notify.problems { Console.writeError("not configured: \(problem)\n") }
        // The daemon's transport and the daemon's rendering: a test takes the path an alert takes.
        let transport = NotifySetup.transport()
        let content = NotifyContent.test(atMillis: SystemDeviceClock().now().unixMillis)
        var failed = false
        for target in targets {
            let result: (delivered: Bool, text: String)
            do {
                let credential = try target.credentialFile.map { path throws(CredentialFile.Failure) in try CredentialFile.read(path: path) }
                let payload = content.payload(target: target, device: config.deviceID, credential: credential, click: config.notify.click)
                result = Self.describe(await transport.send(payload, to: target, credential: credential))
            } catch {
                result = (false, "not sent: \(error.description)")
            }
            failed = failed || !result.delivered
            Console.write("\(target.id) (\(target.kind.rawValue)): \(result.text)\n")
        }
        if failed { throw ExitCode(1) }
    }

    /// The service's answer on one line: whether it took the message, its status or reply
    /// code, and its words.
    static func describe(_ answer: NotifyAnswer) -> (delivered: Bool, text: String) {
        func words(_ text: String) -> String {
            let line = text.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
            return line.isEmpty ? "" : ": \(line)"
        }
        switch answer.outcome {
        case .accepted: return (true, "accepted\(words(answer.text))")
        case .http(let status, let reason, let retryAfter):
            return (false, "HTTP \(status)\(words(reason))" + (retryAfter.map { " (Retry-After: \($0))" } ?? ""))
        case .smtp(let code, let reason): return (false, "SMTP \(code)\(words(reason))")
        case .networkError(let detail): return (false, "no answer: \(detail)")
        case .timeout: return (false, "no answer: timed out")
        }
    }
}

/// One target's line in `notify status`, text and JSON from the same value.
struct NotifyTargetReport: Codable, Sendable, Equatable {
    struct DeadLetter: Codable, Sendable, Equatable {
        var firstSequence: Int64
        var lastSequence: Int64
        var status: Int
        var reason: String
        var atMillis: Int64
    }

    var target: String
    var kind: String
    /// False until the daemon has started delivering to this target (no cursor yet).
    var started = false
    var lastDeliveredMillis: Int64? = nil
    var messagesSent = 0
    var eventsSent = 0
    var retries = 0
    var pending = 0
    var oldestPendingAgeSeconds: Int64? = nil
    /// Open dead letters: refused, waiting for `notify requeue`.
    var deadLetters: [DeadLetter] = []
    /// Re-queued letters the daemon has not yet sent again.
    var requeued = 0
    var lastError: String? = nil
    var nextAttemptMillis: Int64? = nil

    static func read(_ targets: [NotifyTarget], database: LocalDatabase, nowMillis: Int64) throws -> [NotifyTargetReport] {
        let ledger = try NotifyLedger(existing: database.writer)
        let events = AlertEventFeed(store: try AlertStore(writer: database.writer))
        return try targets.map { target in
            guard let ledger, let status = try NotifyStatus.ifStarted(ledger: ledger, target: target.id, events: events, nowMillis: nowMillis) else {
                return NotifyTargetReport(target: target.id, kind: target.kind.rawValue)
            }
            return NotifyTargetReport(
                target: status.target, kind: target.kind.rawValue, started: true, lastDeliveredMillis: status.lastDeliveredMillis,
                messagesSent: status.messagesSent, eventsSent: status.eventsSent, retries: status.retries, pending: status.pending,
                oldestPendingAgeSeconds: status.oldestPendingAge?.components.seconds,
                deadLetters: try ledger.openDeadLetters(target: target.id).map {
                    DeadLetter(firstSequence: $0.range.first, lastSequence: $0.range.last, status: $0.status, reason: $0.reason,
                               atMillis: $0.atMillis)
                },
                requeued: try ledger.requeuedLetters(target: target.id).count,
                lastError: status.lastError, nextAttemptMillis: status.nextAttemptMillis)
        }
    }

    static func json(_ reports: [NotifyTargetReport]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(reports), as: UTF8.self) + "\n"
    }

    static func render(_ reports: [NotifyTargetReport], problems: [String]) -> String {
        var out = ""
        for problem in problems { out += "not configured: \(problem)\n" }
        for r in reports {
            out += "\(r.target) (\(r.kind))\n"
            guard r.started else {
                out += "  not started: the daemon has not delivered to this target yet\n"
                continue
            }
            out += "  last delivered: \(r.lastDeliveredMillis.map(TimeArgument.iso) ?? "never")   "
                + "sent \(count(r.messagesSent, "message")) (\(count(r.eventsSent, "event"))), \(count(r.retries, "retry", "retries"))\n"
            out += "  pending:        \(count(r.pending, "event"))"
                + (r.oldestPendingAgeSeconds.map { ", oldest \(DurationText.format(.seconds($0))) old" } ?? "") + "\n"
            out += "  dead letters:   \(r.deadLetters.count)"
                + (r.deadLetters.isEmpty ? "" : " (edge-agent notify requeue \(r.target) sends them again)") + "\n"
            for letter in r.deadLetters {
                let range = letter.firstSequence == letter.lastSequence ? "#\(letter.firstSequence)" : "#\(letter.firstSequence)-#\(letter.lastSequence)"
                out += "    events \(range): \(letter.status) \(letter.reason) (\(TimeArgument.iso(letter.atMillis)))\n"
            }
            if r.requeued > 0 { out += "  re-queued:      \(count(r.requeued, "letter")) waiting to be sent again\n" }
            if let error = r.lastError { out += "  last error:     \(error)\n" }
            if let next = r.nextAttemptMillis { out += "  next attempt:   \(TimeArgument.iso(next))\n" }
        }
        return out
    }

    /// "1 event", "2 events".
    static func count(_ n: Int, _ one: String, _ many: String? = nil) -> String {
        "\(n) \(n == 1 ? one : many ?? one + "s")"
    }
}
