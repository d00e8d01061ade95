import EdgeCore
import Foundation
import Logging
import Readings
import Wire

/// Moves readings, alert events and health from the device's database to the fleet server.
///
/// Each batch carries events first, then the oldest readings, up to `maxBatchRows` and
/// `maxBatchBytes`, read from SQLite one batch at a time so memory does not grow with the
/// backlog. The cursors advance only on the server's acknowledgement, in the transaction
/// that records it; a failure leaves them where they were, so the same rows go again and the
/// server's `ON CONFLICT DO NOTHING` makes the retry harmless. See docs/SYNC.md.
public actor SyncEngine {
    public let configuration: SyncConfiguration
    let database: LocalDatabase
    let readings: any SyncReadingSource
    let events: (any SyncEventSource)?
    private let builder: BatchBuilder
    let transport: any SyncTransport
    let clock: any DeviceClock
    let health: any HealthFeed
    let ledger: SyncLedger
    let logger: Logger
    private var random: Jitter
    private var backoff: Backoff
    /// Lowered after a 413, back to the configured cap after the next acknowledgement.
    private var rowLimit: Int
    /// The highest sequence per stream known to be in the database file itself, not only in
    /// the WAL: nothing above it is sent (see `keepDurable`).
    private var durable = (readings: Int64(0), events: Int64(0))
    private var lastHealthBootNanos: UInt64?

    public init(configuration: SyncConfiguration, database: LocalDatabase, readings: any SyncReadingSource,
                events: (any SyncEventSource)?, transport: any SyncTransport, health: any HealthFeed,
                clock: any DeviceClock, random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
                logger: Logger = Logger(label: "reef-edge.sync")) throws {
        if let reason = configuration.validationError() { throw SyncError.invalidConfiguration(reason) }
        self.configuration = configuration
        self.database = database
        self.readings = readings
        self.events = events
        self.transport = transport
        self.health = health
        self.clock = clock
        self.random = Jitter(base: random)
        self.logger = logger
        self.backoff = configuration.backoff
        self.rowLimit = configuration.maxBatchRows
        self.builder = BatchBuilder(deviceID: configuration.deviceID, maxBatchBytes: configuration.maxBatchBytes,
                                    clockHold: configuration.clockHold, readings: readings, events: events)
        let ledger = try SyncLedger(writer: database.writer)
        _ = try ledger.takeNewIdentityIfSequencesWentBackwards(database: database, readings: readings, now: clock.now(),
                                                               logger: logger)
        self.ledger = ledger
    }

    // MARK: - Public operations

    /// Sends until cancelled: batches back to back while there is a backlog, a check every
    /// `idleInterval` when there is none, and backoff sleeps on failures, all on the
    /// injected clock. Database errors are logged and retried with backoff too.
    public func run() async throws {
        while true {
            try Task.checkCancellation()
            let wait: Duration?
            do {
                switch try await step(holdUnsynced: true) {
                case .idle: wait = configuration.idleInterval
                // Quarantines in a row are paced like failures: a server that wrongly refuses
                // everything must not dead-letter the whole backlog in a minute.
                case .progressed(_, quarantined: true): wait = backoff.nextDelay(using: &random)
                case .progressed: wait = nil
                case .failed(let delay, _, _): wait = delay
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                let delay = backoff.nextDelay(using: &random)
                logger.error("sync step failed; retrying after the backoff", metadata: ["error": "\(error)", "next_in": "\(delay)"])
                wait = delay
            }
            if let wait { try await clock.sleep(for: wait) }
        }
    }

    /// Pushes everything now, clock-unsynced readings included, reporting progress after each
    /// batch. Transient failures are retried with the configured backoff, up to
    /// `maxConsecutiveFailures` in a row; a refusal of the device's credentials ends it at once.
    @discardableResult
    public func syncOnce(maxConsecutiveFailures: Int = 5,
                         progress: @Sendable (SyncProgress) -> Void = { _ in }) async throws -> SyncProgress {
        var result = SyncProgress(rowsSent: 0, rowsRemaining: try remainingRows(), quarantined: 0)
        progress(result)
        while true {
            switch try await step(holdUnsynced: false) {
            case .idle:
                return result
            case .progressed(let sent, let quarantined):
                result.rowsSent += sent
                result.quarantined += quarantined ? 1 : 0
                // Counting the backlog is a scan of it: done once, then kept by subtraction,
                // or draining N rows would visit N²/(2 × batch) of them. A quarantine (rare)
                // moves the cursor past rows that were not sent, so it recounts.
                result.rowsRemaining = quarantined ? try remainingRows() : max(0, result.rowsRemaining - sent)
                progress(result)
            case .failed(let delay, let reason, let credentials):
                if let credentials { throw SyncError.credentialsRejected(status: credentials, reason: reason) }
                guard backoff.failures < maxConsecutiveFailures else {
                    throw SyncError.gaveUp(failures: backoff.failures, reason: reason)
                }
                try await clock.sleep(for: delay)
            }
        }
    }

    public func status() throws -> SyncStatus {
        try ledger.status(readings: readings, events: events)
    }

    /// The highest reading sequence retention may drop as already on the server: pass it as
    /// `enforceRetention(_:syncedThrough:)`'s `syncedThrough`. Rows of open dead letters stay.
    public func retentionFloor() throws -> Int64 {
        try ledger.retentionFloor()
    }

    /// Sends the rows of every open dead letter again (after the server or the data was
    /// fixed). Returns how many dead letters were re-queued.
    @discardableResult
    public func requeueDeadLetters() throws -> Int {
        try ledger.requeueDeadLetters(nowMillis: clock.now().unixMillis)
    }

    // MARK: - One batch

    enum Step: Equatable {
        /// Nothing to send.
        case idle
        /// A batch was acknowledged (rows sent), quarantined, or split for another try.
        case progressed(sent: Int, quarantined: Bool)
        /// Wait `delay`, then try the same rows again. `credentials` is the HTTP status of a
        /// refusal of the device itself.
        case failed(delay: Duration, reason: String, credentials: Int?)
    }

    func step(holdUnsynced: Bool) async throws -> Step {
        guard let pending = try nextBatch(holdUnsynced: holdUnsynced) else { return .idle }
        let outcome: Result<TransportResponse, TransportError>
        do {
            outcome = .success(try await transport.post(batch: pending.body))
        } catch {
            // Stopping, not failing: nothing is recorded, the same rows go at the next start.
            if error.kind == .cancelled { throw CancellationError() }
            outcome = .failure(error)
        }
        let now = clock.now()
        switch Disposition.classify(outcome) {
        case .acknowledged:
            let response = try outcome.get()
            guard let ack = try? WireCodec.decodeAnswer(SyncAck.self, response.body) else {
                return try fail("server answered \(response.status) without a readable acknowledgement", retryAfter: nil, now: now)
            }
            guard let accepted = accept(ack, for: pending) else {
                return try fail("server acknowledged \(describe(ack)) for a batch of \(describe(pending))", retryAfter: nil, now: now)
            }
            // Health counts as delivered with any ack: a server that chose not to store it
            // would otherwise get it on every batch.
            try ledger.recordAck(accepted, healthSent: pending.health, nowMillis: now.unixMillis)
            if pending.health { lastHealthBootNanos = now.bootNanos }
            backoff.reset()
            rowLimit = configuration.maxBatchRows
            let sent = (accepted.readings.map { Int($0.inserted + $0.duplicates) } ?? 0)
                + (accepted.events.map { Int($0.inserted + $0.duplicates) } ?? 0)
            return .progressed(sent: sent, quarantined: false)
        case .retry(let reason):
            let retryAfter = (try? outcome.get())?.retryAfter
                .flatMap { RetryAfter.delay($0, nowMillis: now.unixMillis, cap: configuration.retryAfterCap) }
            return try fail(reason, retryAfter: retryAfter, now: now)
        case .split(let reason):
            guard pending.rows > 1 else {
                return try quarantine(pending, status: 413, reason: reason, now: now)
            }
            rowLimit = max(1, pending.rows / 2)
            logger.notice("batch too large for the server; trying a smaller one", metadata: [
                "rows": "\(pending.rows)", "reason": "\(reason)", "next_rows": "\(rowLimit)"])
            return .progressed(sent: 0, quarantined: false)
        case .credentials(let status, let reason):
            // Not the batch's fault: nothing is quarantined, and retrying sooner than the cap
            // would only repeat the refusal.
            let result = try fail("HTTP \(status): \(reason)", retryAfter: configuration.backoff.cap, now: now)
            guard case .failed(let delay, let text, _) = result else { return result }
            return .failed(delay: delay, reason: text, credentials: status)
        case .quarantine(let status, let reason):
            return try quarantine(pending, status: status, reason: reason, now: now)
        }
    }

    private func fail(_ reason: String, retryAfter: Duration?, now: DeviceTime) throws -> Step {
        let jittered = backoff.nextDelay(using: &random)
        let delay = retryAfter ?? jittered
        try ledger.recordFailure(reason, nowMillis: now.unixMillis, failures: backoff.failures,
                                 nextAttemptMillis: now.unixMillis + delay.saturatingMillis)
        logger.warning("sync attempt failed", metadata: [
            "reason": "\(reason)", "failures_in_a_row": "\(backoff.failures)", "next_in": "\(delay)"])
        return .failed(delay: delay, reason: reason, credentials: nil)
    }

    private func quarantine(_ pending: PendingBatch, status: Int, reason: String, now: DeviceTime) throws -> Step {
        try ledger.quarantine(readings: pending.readings, events: pending.events, status: status, reason: reason,
                              nowMillis: now.unixMillis)
        logger.error("batch quarantined; its rows stay in the local database", metadata: [
            "http_status": "\(status)", "reason": "\(reason)",
            "readings": "\(pending.readings?.description ?? "-")", "events": "\(pending.events?.description ?? "-")"])
        rowLimit = configuration.maxBatchRows
        return .progressed(sent: 0, quarantined: true)
    }

    /// The part of `ack` that continues the cursors: each stream's acknowledged range must
    /// start at or before what was sent and end within it. Nil when it does not (a server
    /// bug); the batch is then retried.
    private func accept(_ ack: SyncAck, for pending: PendingBatch) -> SyncAck? {
        func check(_ sent: SequenceRange?, _ acked: SyncAck.StreamAck?) -> (ok: Bool, ack: SyncAck.StreamAck?) {
            guard let sent else { return (true, nil) }
            guard let acked, acked.range.first <= sent.first, acked.range.last >= sent.first,
                  acked.range.last <= sent.last else { return (false, nil) }
            return (true, acked)
        }
        let r = check(pending.readings, ack.readings)
        let e = check(pending.events, ack.events)
        guard r.ok, e.ok else { return nil }
        return SyncAck(readings: r.ack, events: e.ack, healthStored: ack.healthStored)
    }

    private func describe(_ ack: SyncAck) -> String {
        "readings \(ack.readings?.range.description ?? "-"), events \(ack.events?.range.description ?? "-")"
    }

    private func describe(_ pending: PendingBatch) -> String {
        "readings \(pending.readings?.description ?? "-"), events \(pending.events?.description ?? "-")"
    }

    private func remainingRows() throws -> Int {
        let status = try status()
        return status.readings.backlogRows + status.events.backlogRows
    }

    // MARK: - Building a batch

    /// The next batch: at most `rowLimit` rows beyond the cursors, only those known to be
    /// in the database file, and health when it is due.
    func nextBatch(holdUnsynced: Bool) throws -> PendingBatch? {
        let now = clock.now()
        let cursors = try ledgerCursorsCheckingSequences()
        let position = BatchBuilder.Position(readings: cursors[.readings]?.position ?? 0,
                                             events: cursors[.events]?.position ?? 0)
        var rows = try builder.rows(after: position, limit: rowLimit, holdUnsynced: holdUnsynced, now: now)
        try keepDurable(&rows.events, &rows.readings)
        let health = healthDue(now) ? self.health.latestReport() : nil
        return try builder.batch(rows, after: position, storeID: database.storeID, health: health)
    }

    /// Drops the rows not known to be in the database file itself, after one FULL checkpoint
    /// when the batch reaches past what is known. A row sent from the WAL alone could be lost
    /// with it (a power cut, a deleted `-wal`), and its sequence would then be issued again
    /// to a different reading, which the server would acknowledge as a duplicate and never
    /// store. Every row fetched above is committed, and so is every reading up to
    /// `highestSequenceIssued()` read before the checkpoint: a complete checkpoint covers them.
    /// In a long drain one checkpoint covers the whole backlog.
    private func keepDurable(_ eventRows: inout [WireAlertEvent], _ readingRows: inout [Reading]) throws {
        let lastEvent = eventRows.last?.sequence ?? 0
        let lastReading = readingRows.last?.sequence ?? 0
        if lastEvent > durable.events || lastReading > durable.readings {
            let issued = try readings.highestSequenceIssued()
            if try database.checkpointIntoDatabaseFile() {
                durable = (max(durable.readings, issued, lastReading), max(durable.events, lastEvent))
            } else {
                logger.notice("checkpoint held back by another connection; sending only rows already in the database file",
                              metadata: ["durable_readings": "\(durable.readings)", "durable_events": "\(durable.events)"])
            }
        }
        eventRows = Array(eventRows.prefix { $0.sequence <= durable.events })
        readingRows = Array(readingRows.prefix { $0.sequence <= durable.readings })
    }

    /// The cursors, after making sure the store's sequences did not go backwards (see
    /// `SyncLedger.takeNewIdentityIfSequencesWentBackwards`).
    private func ledgerCursorsCheckingSequences() throws -> [SyncStream: SyncLedger.Cursor] {
        if try ledger.takeNewIdentityIfSequencesWentBackwards(database: database, readings: readings, now: clock.now(),
                                                              logger: logger) {
            durable = (0, 0)
        }
        return try ledger.cursors()
    }

    // MARK: - Health

    /// Health goes with the first batch, then once `healthInterval` has passed since the
    /// last one the server acknowledged.
    private func healthDue(_ now: DeviceTime) -> Bool {
        guard let last = lastHealthBootNanos else { return true }
        return now.bootNanos - last >= UInt64(configuration.healthInterval.saturatingMillis) * 1_000_000
    }
}
