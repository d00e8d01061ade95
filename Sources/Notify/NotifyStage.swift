import EdgeCore
import Foundation
import Logging
import NotifyDelivery
import Wire

/// One target's delivery loop: reads the events after its cursor, decides the next message
/// (`NotifyComposer`), fixes its range before the first attempt (`NotifyLedger.beginAttempt`),
/// renders it (`NotifyContent.payload`), hands it to the transport, and records what
/// `DeliveryState` decides in the ledger; then sleeps until the next attempt, the grouping
/// window's end, the next reminder, a ring of its `wakeup` (the engine recorded an event) or
/// the poll interval, whichever comes first.
///
/// One message per cycle, in this order: re-queued dead letters, the still-firing state owed
/// after an offline summary, the message in flight (a restart mid-attempt: the same range,
/// the same key), the cursor's next message or urgent events ahead of it, reminders.
///
/// Never throws and never stops: a failing database or service is logged (constant message,
/// the target and the reason as metadata, never a credential or a Telegram URL) and tried
/// again, and each target has its own stage, so one never holds back another.
public actor NotifyStage {
    public struct Settings: Sendable {
        /// The device name in every message.
        public var device: String
        /// Where tapping a notification leads (the local dashboard), if anywhere.
        public var click: String?
        /// The longest sleep: the fallback when a wake-up ring is missed.
        public var pollInterval: Duration
        /// Events read per cycle: the bound on what a backlog costs in memory.
        public var window: Int
        public var maxEventsPerMessage: Int

        public init(device: String, click: String? = nil, pollInterval: Duration = .seconds(10), window: Int = 1000,
                    maxEventsPerMessage: Int = 50) {
            self.device = device
            self.click = click
            self.pollInterval = pollInterval
            self.window = window
            self.maxEventsPerMessage = maxEventsPerMessage
        }
    }

    public nonisolated let target: NotifyTarget
    public nonisolated let wakeup = NotifyWakeup()
    let settings: Settings
    let ledger: NotifyLedger
    let events: any NotifyEventSource
    let firing: any FiringRuleSource
    let transport: any NotifyTransport
    let clock: any DeviceClock
    let logger: Logger
    private var delivery = DeliveryState()
    private var random: StageRandom
    private var registered = false
    /// After an offline summary: the events it covered end here, and the state of what still
    /// fires is owed. In memory: a crash in between loses it, and reminders cover the
    /// critical rules (docs/NOTIFY.md).
    private var owedStillFiring: Int64?
    /// A priority message was refused: its events take the cursor's path (which dead-letters
    /// them properly) until the cursor passes this sequence.
    private var noAheadThrough: Int64?

    public init(target: NotifyTarget, settings: Settings, ledger: NotifyLedger, events: any NotifyEventSource,
                firing: any FiringRuleSource, transport: any NotifyTransport, clock: any DeviceClock,
                random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
                logger: Logger = Logger(label: "reef-edge.notify")) {
        self.target = target
        self.settings = settings
        self.ledger = ledger
        self.events = events
        self.firing = firing
        self.transport = transport
        self.clock = clock
        self.random = StageRandom(base: random)
        var logger = logger
        logger[metadataKey: "target"] = "\(target.id)"
        self.logger = logger
    }

    /// Delivers until cancelled.
    public func run() async {
        while !Task.isCancelled {
            var wakeAt: Int64?
            do {
                wakeAt = try await cycle()
            } catch {
                logger.error("notify cycle failed; trying again", metadata: ["error": "\(error)"])
                wakeAt = .max
            }
            guard let wakeAt else { continue }
            let wait = min(settings.pollInterval, .milliseconds(max(0, wakeAt - nowMillis())))
            if wait > .zero { await wakeup.sleep(for: wait, on: clock) }
        }
    }

    /// One message at most; returns when to look again, nil for at once (there may be more).
    func cycle() async throws -> Int64? {
        if !registered {
            try ledger.register(target: target.id, startAfter: try events.notifyNewestSequence())
            registered = true
        }
        let now = nowMillis()
        if let next = delivery.nextAttemptMillis, now < next { return next }
        if let letter = try ledger.requeuedLetters(target: target.id).first {
            try await redeliver(letter)
            return nil
        }
        if let after = owedStillFiring {
            try await sendStillFiring(after: after)
            return nil
        }
        let cursor = try ledger.cursor(target: target.id)
        if let noAhead = noAheadThrough, cursor.deliveredThrough >= noAhead { noAheadThrough = nil }
        let pending = try events.notifyEvents(afterSequence: cursor.deliveredThrough, limit: settings.window)
        let sentAhead = try ledger.sentAhead(target: target.id)
        if let inFlight = cursor.inFlight {
            switch try resend(inFlight: inFlight, after: cursor.deliveredThrough) {
            case nil:
                try ledger.recordSkip(target: target.id, through: inFlight.last)
            case .summary(let summary, _)? where summary.reason == .offline:
                // Stale after an outage: the whole outage goes as one summary, this included.
                if let whole = try outage(pending: pending, sentAhead: sentAhead, now: now),
                   whole.range.first == inFlight.first, whole.range.last > inFlight.last {
                    try ledger.extendAttempt(target: target.id, to: whole.range)
                    try await sendCursorMessage(whole.content, range: whole.range)
                } else {
                    try await sendCursorMessage(.summary(summary, range: inFlight), range: inFlight)
                }
            case let content?:
                try await sendCursorMessage(content, range: inFlight)
            }
            return nil
        }
        let rate = RateWindow(cap: target.rateCap, sentMillis: cursor.recentSentMillis)
        var waitUntil = Int64.max
        switch NotifyComposer.next(pending: pending, sentAhead: sentAhead, target: target, nowMillis: now, rate: rate,
                                   maxEventsPerMessage: settings.maxEventsPerMessage, aheadAllowed: noAheadThrough == nil) {
        case .idle:
            break
        case .skip(let through):
            try ledger.recordSkip(target: target.id, through: through)
            return nil
        case .wait(let until):
            waitUntil = until
        case .send(let content, let range):
            let (whole, wholeRange) = try collapsingTheWholeOutage(content, range: range, pending: pending, sentAhead: sentAhead,
                                                                  now: now)
            // No other writer sets the range in flight: this is the range just planned.
            _ = try ledger.beginAttempt(target: target.id, range: wholeRange)
            try await sendCursorMessage(whole, range: wholeRange)
            return nil
        case .sendAhead(let content, let sequences):
            try await sendAhead(content, sequences: sequences)
            return nil
        }
        // One read of the firing rules and the reminders sent serves both questions.
        let rules = try firing.firingRules(nowMillis: now)
        let sent = try ledger.repeatsSent(target: target.id)
        if rate.blockedUntil(nowMillis: now) == nil, try await sendReminder(now: now, rules: rules, sent: sent) { return nil }
        return min(waitUntil, nextReminderMillis(now: now, rate: rate, rules: rules, sent: sent))
    }

    // MARK: - The cursor's messages

    private func sendCursorMessage(_ content: NotifyContent, range: SequenceRange) async throws {
        let answer = await send(content)
        switch delivery.record(answer.outcome, for: range, nowMillis: nowMillis(), random: &random) {
        case .delivered:
            try ledger.recordDelivery(target: target.id, range: range, events: content.eventCount, nowMillis: nowMillis(),
                                      rateCap: target.rateCap)
            logger.info("notification delivered", metadata: ["range": "\(range)", "key": "\(content.idempotencyKey(target: target.id))"])
            if case .summary(let summary, _) = content, summary.reason == .offline { owedStillFiring = range.last }
        case .retry(let at, let reason):
            try ledger.recordFailure(target: target.id, reason: reason, nowMillis: nowMillis(), nextAttemptMillis: at)
            logger.warning("notification not delivered; retrying", metadata: ["range": "\(range)", "reason": "\(reason)", "at_ms": "\(at)"])
        case .deadLetter(let letter, let status, let reason, let next):
            try ledger.recordDeadLetter(target: target.id, range: letter, status: status, reason: reason, nowMillis: nowMillis(),
                                        nextAttemptMillis: next)
            logger.error("notification refused; dead-lettered", metadata: ["range": "\(letter)", "status": "\(status)", "reason": "\(reason)"])
        }
    }

    /// The content for a range fixed earlier (a retry, or a restart mid-attempt): the same
    /// range, hence the same key. Re-planned over exactly that range; when that no longer
    /// gives one message for it (an offline summary read in several windows), its summary;
    /// nil when the target no longer wants any of it (its filter changed).
    private func resend(inFlight range: SequenceRange, after cursor: Int64) throws -> NotifyContent? {
        let sentAhead = try ledger.sentAhead(target: target.id)
        var inRange = try events.notifyEvents(afterSequence: cursor, limit: settings.window).filter { $0.sequence <= range.last }
        let now = nowMillis()
        if case .send(let content, let planned) = NotifyComposer.next(
            pending: inRange, sentAhead: sentAhead, target: target, nowMillis: now, rate: nil,
            maxEventsPerMessage: settings.maxEventsPerMessage, aheadAllowed: false), planned == range {
            return content
        }
        var summary: NotifySummary?
        var through = cursor
        let cutoff = now - target.maxAge.saturatingMillis
        while let last = inRange.last {
            let wanted = inRange.filter { target.filter.admits($0) && !sentAhead.contains($0.sequence) }
            if let oldest = wanted.first {
                let part = NotifySummary(summary?.reason ?? (oldest.timestampMillis < cutoff ? .offline : .rateCapped), events: wanted)
                summary = summary.map { $0.merging(part) } ?? part
            }
            through = last.sequence
            guard through < range.last else { break }
            inRange = try events.notifyEvents(afterSequence: through, limit: settings.window).filter { $0.sequence <= range.last }
        }
        return summary.map { .summary($0, range: range) }
    }

    /// The summary of the outage the cursor is in, if it is in one.
    private func outage(pending: [WireAlertEvent], sentAhead: Set<Int64>, now: Int64) throws
        -> (content: NotifyContent, range: SequenceRange)? {
        guard case .send(let content, let range) = NotifyComposer.next(
            pending: pending, sentAhead: sentAhead, target: target, nowMillis: now, rate: nil,
            maxEventsPerMessage: settings.maxEventsPerMessage, aheadAllowed: false),
            case .summary(let summary, _) = content, summary.reason == .offline else { return nil }
        return try collapsingTheWholeOutage(content, range: range, pending: pending, sentAhead: sentAhead, now: now)
    }

    /// An offline summary that reaches the end of a full window goes on into the next ones,
    /// so an outage of any length is one summary with exact counts, read a window at a time.
    private func collapsingTheWholeOutage(_ content: NotifyContent, range: SequenceRange, pending: [WireAlertEvent],
                                          sentAhead: Set<Int64>, now: Int64) throws -> (NotifyContent, SequenceRange) {
        guard case .summary(var summary, _) = content, summary.reason == .offline else { return (content, range) }
        var range = range
        var window = pending
        while window.count == settings.window, range.last == window.last?.sequence {
            window = try events.notifyEvents(afterSequence: range.last, limit: settings.window)
            guard case .send(.summary(let more, _), let next) = NotifyComposer.next(
                pending: window, sentAhead: sentAhead, target: target, nowMillis: now, rate: nil,
                maxEventsPerMessage: settings.maxEventsPerMessage, aheadAllowed: false), more.reason == .offline else { break }
            summary = summary.merging(more)
            range = SequenceRange(first: range.first, last: next.last)
        }
        return (.summary(summary, range: range), range)
    }

    // MARK: - Messages outside the cursor's ranges

    private func sendAhead(_ content: NotifyContent, sequences: [Int64]) async throws {
        let answer = await send(content)
        switch delivery.record(answer.outcome, for: Self.noRange, nowMillis: nowMillis(), random: &random) {
        case .delivered:
            try ledger.recordSentAhead(target: target.id, sequences: sequences, nowMillis: nowMillis(), rateCap: target.rateCap)
            logger.info("urgent notification delivered ahead of the backlog", metadata: ["key": "\(content.idempotencyKey(target: target.id))"])
        case .retry(let at, let reason):
            try ledger.recordFailure(target: target.id, reason: reason, nowMillis: nowMillis(), nextAttemptMillis: at)
            logger.warning("notification not delivered; retrying", metadata: ["key": "\(content.idempotencyKey(target: target.id))", "reason": "\(reason)"])
        case .deadLetter(_, let status, let reason, let next):
            noAheadThrough = sequences.max()
            try ledger.recordFailure(target: target.id, reason: "refused ahead of the backlog (\(status)): \(reason)",
                                     nowMillis: nowMillis(), nextAttemptMillis: next)
            logger.error("urgent notification refused; it goes in order instead", metadata: ["status": "\(status)", "reason": "\(reason)"])
        }
    }

    private func redeliver(_ letter: NotifyDeadLetter) async throws {
        let inRange = try events.notifyEvents(afterSequence: letter.range.first - 1, limit: settings.window)
            .filter { $0.sequence <= letter.range.last && target.filter.admits($0) }
        guard !inRange.isEmpty else {
            try ledger.recordRedelivery(letter: letter, events: 0, nowMillis: nowMillis(), rateCap: target.rateCap)
            return
        }
        let content = NotifyContent.events(NotifyComposer.collapsingFlaps(inRange), range: letter.range)
        let answer = await send(content)
        switch delivery.record(answer.outcome, for: letter.range, nowMillis: nowMillis(), random: &random) {
        case .delivered:
            try ledger.recordRedelivery(letter: letter, events: content.eventCount, nowMillis: nowMillis(), rateCap: target.rateCap)
            logger.info("re-queued notification delivered", metadata: ["range": "\(letter.range)"])
        case .retry(let at, let reason):
            try ledger.recordFailure(target: target.id, reason: reason, nowMillis: nowMillis(), nextAttemptMillis: at)
        case .deadLetter(_, let status, let reason, _):
            try ledger.recordRefusedAgain(letter: letter, status: status, reason: reason, nowMillis: nowMillis())
            logger.error("re-queued notification refused again", metadata: ["range": "\(letter.range)", "status": "\(status)", "reason": "\(reason)"])
        }
    }

    private func sendStillFiring(after: Int64) async throws {
        let now = nowMillis()
        let rules = try firing.firingRules(nowMillis: now).filter(wanted).sorted { $0.ruleID < $1.ruleID }
        guard !rules.isEmpty else {
            owedStillFiring = nil
            return
        }
        let content = NotifyContent.stillFiring(rules, afterSequence: after, atMillis: now)
        let answer = await send(content)
        switch delivery.record(answer.outcome, for: Self.noRange, nowMillis: nowMillis(), random: &random) {
        case .delivered:
            owedStillFiring = nil
            try ledger.recordNotice(target: target.id, nowMillis: nowMillis(), rateCap: target.rateCap)
        case .retry(let at, let reason):
            try ledger.recordFailure(target: target.id, reason: reason, nowMillis: nowMillis(), nextAttemptMillis: at)
        case .deadLetter(_, let status, let reason, let next):
            owedStillFiring = nil
            try ledger.recordFailure(target: target.id, reason: "state after the outage refused (\(status)): \(reason)",
                                     nowMillis: nowMillis(), nextAttemptMillis: next)
        }
    }

    /// When the next reminder falls due (`.max` for none).
    private func nextReminderMillis(now: Int64, rate: RateWindow, rules: [FiringRule], sent: [String: Int64]) -> Int64 {
        guard let next = RepeatSchedule.nextDueMillis(firing: rules, target: target, lastSentMillis: sent) else { return .max }
        if let blocked = rate.blockedUntil(nowMillis: now) { return max(next, blocked) }
        return next
    }

    /// Sends the first due reminder, if any is due.
    private func sendReminder(now: Int64, rules: [FiringRule], sent: [String: Int64]) async throws -> Bool {
        guard let rule = RepeatSchedule.due(firing: rules, target: target, lastSentMillis: sent, nowMillis: now).first else { return false }
        let due = RepeatSchedule.dueMillis(rule: rule, lastSentMillis: sent[rule.ruleID], interval: target.repeatInterval)
        let answer = await send(.reminder(rule, dueMillis: due))
        switch delivery.record(answer.outcome, for: Self.noRange, nowMillis: nowMillis(), random: &random) {
        case .delivered:
            try ledger.recordRepeat(target: target.id, ruleID: rule.ruleID, nowMillis: nowMillis(), rateCap: target.rateCap)
            logger.info("reminder delivered", metadata: ["rule": "\(rule.ruleID)"])
        case .retry(let at, let reason):
            try ledger.recordFailure(target: target.id, reason: reason, nowMillis: nowMillis(), nextAttemptMillis: at)
        case .deadLetter(_, _, let reason, let next):
            try ledger.recordRepeatRefused(target: target.id, ruleID: rule.ruleID, reason: reason, nowMillis: nowMillis(),
                                           nextAttemptMillis: next)
        }
        return true
    }

    // MARK: - Helpers

    /// A still-firing rule this target tells of: its filter's severity, rules and sensors, and
    /// not silenced.
    private func wanted(_ rule: FiringRule) -> Bool {
        !rule.silenced && rule.severity.rank >= target.filter.minimumSeverity.rank
            && (target.filter.rules.isEmpty || target.filter.rules.contains(rule.ruleID))
            && (target.filter.sensors.isEmpty || target.filter.sensors.contains(rule.sensorID))
    }

    private func send(_ content: NotifyContent) async -> NotifyAnswer {
        let credential: String?
        do {
            credential = try target.credentialFile.map { path throws(CredentialFile.Failure) in try CredentialFile.read(path: path) }
        } catch {
            // Retried like a network error: the owner may be fixing the file right now.
            return NotifyAnswer(outcome: .networkError("\(error)"), text: "")
        }
        let payload = content.payload(target: target, device: settings.device, credential: credential, click: settings.click)
        return await transport.send(payload, to: target, credential: credential)
    }

    private func nowMillis() -> Int64 { clock.now().unixMillis }

    /// The range `DeliveryState` is told of for messages that cover none.
    private static let noRange = SequenceRange(first: 0, last: 0)
}

/// Holds the injected generator; an existential cannot be passed where `some RandomNumberGenerator` is expected.
struct StageRandom: RandomNumberGenerator, Sendable {
    var base: any RandomNumberGenerator & Sendable
    mutating func next() -> UInt64 { base.next() }
}
