import AlertEngine
import ArgumentParser
import EdgeCore
import Foundation
import Notify
import Readings
import Wire

/// `edge-agent notify status|requeue|test`: what a keeper asks of the notification targets
/// configured in agent.yaml — is my phone getting alerts, send the refused ones again, does
/// the setup work at all.
struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Notification targets: delivery status, re-queue dead letters, send a test message.",
        subcommands: [NotifyStatusCommand.self, NotifyRequeueCommand.self])
}

/// A target id as typed on the command line: the shape agent.yaml allows, so a typo is
/// refused before anything is opened.
struct NotifyTargetArgument: ExpressibleByArgument, Sendable {
    let id: String

    init?(argument: String) {
        let probe = NotifyTarget(id: argument, kind: .ntfy, url: "https://id.check")
        guard argument.utf8.count <= AgentConfig.Notify.idBytes, probe.validationError() == nil else { return nil }
        id = argument
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

extension AgentConfig.Notify {
    /// The configured target named `id`, or an error listing the ids there are.
    func target(_ id: String, source: String) throws -> NotifyTarget {
        guard !targets.isEmpty else {
            throw CLIError("no notify targets in \(source); add a notify: section (docs/NOTIFY.md)"
                + (problems.isEmpty ? "" : "; its problems: " + problems.joined(separator: "; ")))
        }
        guard let target = targets.first(where: { $0.id == id }) else {
            throw CLIError("no notify target '\(id)' in \(source); configured: \(targets.map(\.id).joined(separator: ", "))")
        }
        return target
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
        guard !config.notify.targets.isEmpty || !config.notify.problems.isEmpty else {
            throw CLIError("no notify targets in \(config.source); add a notify: section (docs/NOTIFY.md)")
        }
        let database = try DataPaths(config).openReadOnly()
        let reports = try await DataPaths.reading(database) {
            try NotifyTargetReport.read(config.notify.targets, database: database, nowMillis: SystemDeviceClock().now().unixMillis)
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

    func run() async throws {
        let config = try global.load()
        let target = try config.notify.target(target.id, source: config.source)
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
    var started: Bool
    var lastDeliveredMillis: Int64?
    var messagesSent: Int
    var eventsSent: Int
    var retries: Int
    var pending: Int
    var oldestPendingAgeSeconds: Int64?
    /// Open dead letters: refused, waiting for `notify requeue`.
    var deadLetters: [DeadLetter]
    /// Re-queued letters the daemon has not yet sent again.
    var requeued: Int
    var lastError: String?
    var nextAttemptMillis: Int64?

    static func read(_ targets: [NotifyTarget], database: LocalDatabase, nowMillis: Int64) throws -> [NotifyTargetReport] {
        let ledger = try NotifyLedger(existing: database.writer)
        let events = AlertEventFeed(store: try AlertStore(writer: database.writer))
        return try targets.map { target in
            guard let ledger, let status = try Self.status(ledger, target.id, events, nowMillis) else {
                return NotifyTargetReport(target: target.id, kind: target.kind.rawValue, started: false, messagesSent: 0, eventsSent: 0,
                                          retries: 0, pending: 0, deadLetters: [], requeued: 0)
            }
            return NotifyTargetReport(status, kind: target.kind, deadLetters: try ledger.openDeadLetters(target: target.id),
                                      requeued: try ledger.requeuedLetters(target: target.id).count)
        }
    }

    private static func status(_ ledger: NotifyLedger, _ target: String, _ events: AlertEventFeed, _ nowMillis: Int64) throws -> NotifyStatus? {
        do {
            return try NotifyStatus.read(ledger: ledger, target: target, events: events, nowMillis: nowMillis)
        } catch NotifyLedgerError.unknownTarget {
            return nil
        }
    }

    init(_ status: NotifyStatus, kind: NotifyTarget.Kind, deadLetters: [NotifyDeadLetter], requeued: Int) {
        self.init(target: status.target, kind: kind.rawValue, started: true, lastDeliveredMillis: status.lastDeliveredMillis,
                  messagesSent: status.messagesSent, eventsSent: status.eventsSent, retries: status.retries, pending: status.pending,
                  oldestPendingAgeSeconds: status.oldestPendingAge?.components.seconds,
                  deadLetters: deadLetters.map {
                      DeadLetter(firstSequence: $0.range.first, lastSequence: $0.range.last, status: $0.status, reason: $0.reason,
                                 atMillis: $0.atMillis)
                  },
                  requeued: requeued,
                  lastError: status.lastError, nextAttemptMillis: status.nextAttemptMillis)
    }

    init(target: String, kind: String, started: Bool, lastDeliveredMillis: Int64? = nil, messagesSent: Int, eventsSent: Int,
         retries: Int, pending: Int, oldestPendingAgeSeconds: Int64? = nil, deadLetters: [DeadLetter], requeued: Int, lastError: String? = nil,
         nextAttemptMillis: Int64? = nil) {
        self.target = target
        self.kind = kind
        self.started = started
        self.lastDeliveredMillis = lastDeliveredMillis
        self.messagesSent = messagesSent
        self.eventsSent = eventsSent
        self.retries = retries
        self.pending = pending
        self.oldestPendingAgeSeconds = oldestPendingAgeSeconds
        self.deadLetters = deadLetters
        self.requeued = requeued
        self.lastError = lastError
        self.nextAttemptMillis = nextAttemptMillis
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
