import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The workers of one fleet-server process, run as a service of its application.
///
/// - Up to `concurrency` jobs at once, claimed from `JobQueue` every `pollInterval` (and at
///   once when a slot frees), each handed to the `JobHandler` of its kind; a kind this
///   server has no handler for is dead with a reason saying so. With no handlers at all the
///   pool claims nothing (a server that only stores batches leaves jobs to servers that
///   deliver them).
/// - A heartbeat per held job renews its lease every `heartbeatInterval`.
/// - The rescuer, every `rescueInterval`, takes back jobs whose lease expired anywhere in
///   the fleet, so a killed process's jobs are delivered by another.
/// - Each `PeriodicDuty` (and the queue's own retention) every `interval`, under its advisory
///   lock, so one process at a time runs it.
/// - Graceful shutdown stops claiming, gives held jobs `shutdownGrace` to finish and
///   releases the rest (due again at once, for another process). A cancelled pool cannot
///   reach the database to release: its jobs wait for their leases to expire.
public final class WorkerPool: Service, Sendable {
    /// This process among the fleet's workers: host, pid and a random part.
    public let owner: String
    public let queue: JobQueue
    let settings: WorkerSettings
    let handlers: [String: any JobHandler]
    let duties: [any PeriodicDuty]
    let logger: Logger
    let ready: @Sendable () async throws -> Void
    let started = Date()

    private struct State {
        /// By job and attempt: a job rescued from this process and claimed by it again is two entries.
        var held: Set<ClaimedJob> = []
        var lastActivity: Date?
        var stopping = false
    }
    private let state = Mutex(State())
    private let wake = Wakeup()

    /// `ready` is awaited before the pool starts (the schema migration).
    public init(client: PostgresClient, settings: WorkerSettings, handlers: [any JobHandler], duties: [any PeriodicDuty],
                logger: Logger, ready: @escaping @Sendable () async throws -> Void = {}) {
        owner = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        queue = JobQueue(client: client, logger: logger)
        self.settings = settings
        self.handlers = Dictionary(handlers.map { ($0.kind, $0) }, uniquingKeysWith: { first, _ in first })
        self.duties = duties + [QueueRetention(settings: settings, logger: logger)]
        self.logger = logger
        self.ready = ready
    }

    /// This process's part of the status: how long it has run, when it last finished an
    /// attempt, what it holds now.
    public struct Activity: Codable, Sendable, Hashable {
        public var worker: String
        public var uptimeSeconds: Double
        public var lastActivityMillis: Int64?
        public var held: Int
        public var kinds: [String]
    }

    public var activity: Activity {
        state.withLock { state in
            Activity(worker: owner, uptimeSeconds: Date().timeIntervalSince(started), lastActivityMillis: state.lastActivity?.millis,
                     held: state.held.count, kinds: handlers.keys.sorted())
        }
    }

    public func run() async throws {
        try await ready()
        logger.info("the job workers started", metadata: [
            "worker": "\(owner)", "concurrency": "\(settings.concurrency)", "kinds": "\(handlers.keys.sorted().joined(separator: ","))",
        ])
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await work()
            } onCancel: { self.stop() }
        } onGracefulShutdown: { self.stop() }
    }

    private func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
    }

    private var stopping: Bool { state.withLock { $0.stopping } }

    private func work() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.repeating("rescuer", every: self.settings.rescueInterval) { try await self.rescue() } }
            for duty in duties {
                group.addTask { await self.repeating(duty.name, every: duty.interval) { try await self.run(duty) } }
            }
            while !stopping && !Task.isCancelled {
                let free = settings.concurrency - state.withLock { $0.held.count }
                if free > 0 && !handlers.isEmpty {
                    do {
                        let jobs = try await abandoningOnCancel { [queue, owner, settings] in
                            try await queue.claim(free, owner: owner, lease: settings.leaseDuration)
                        }
                        // Claimed as the pool was cancelled: the leases expire and others take them.
                        if Task.isCancelled { break }
                        state.withLock { state in state.held.formUnion(jobs) }
                        for job in jobs { group.addTask { await self.perform(job) } }
                        if jobs.count == free { continue }
                    } catch {
                        logger.warning("claiming jobs failed", metadata: ["error": "\(String(reflecting: error))"])
                    }
                }
                await wake.wait(upTo: settings.pollInterval)
            }
            await drain()
            group.cancelAll()
        }
    }

    /// Runs one job's attempt under its lease and records the result.
    private func perform(_ job: ClaimedJob) async {
        let clock = ContinuousClock()
        let start = clock.now
        let result: JobResult
        if let handler = handlers[job.kind] {
            // The heartbeat is a sibling of the attempt, ended with it (or with the pool).
            result = await withTaskGroup(of: JobResult?.self) { group in
                group.addTask { await self.keepLease(job, since: start, clock: clock); return nil }
                group.addTask { await handler.perform(job) }
                var result: JobResult = .retry(error: "the attempt was cancelled", notBeforeSeconds: nil)
                for await answer in group {
                    guard let answer else { continue }
                    result = answer
                    group.cancelAll()
                }
                return result
            }
        } else {
            result = .dead(error: "no handler for kind \"\(job.kind)\" in this server (it handles \(handlers.keys.sorted().joined(separator: ", "))); retry it once a server that handles it runs")
        }
        let latency = start.duration(to: clock.now)
        let metadata: Logger.Metadata = ["job": "\(job.id)", "kind": "\(job.kind)", "receiver": "\(job.receiver)", "attempt": "\(job.attempt)"]
        // Cancelled, the database client is going away with the pool: a query now could wait
        // for ever. The lease expires and the rescuer hands the job on.
        guard !Task.isCancelled else {
            state.withLock { _ = $0.held.remove(job) }
            return
        }
        do {
            if let settlement = try await abandoningOnCancel({ [queue, owner, settings] in
                try await queue.finish(job, owner: owner, result: result, latency: latency, policy: settings.retryPolicy)
            }) {
                if settlement.state == .dead {
                    logger.warning("a job is dead", metadata: metadata.merging(["error": "\(settlement.error ?? "")"]) { $1 })
                } else if let delay = settlement.delay {
                    logger.info("a job's attempt failed and will be retried", metadata: metadata.merging([
                        "error": "\(settlement.error ?? "")", "retryInSeconds": "\(delay.secondsText)"]) { $1 })
                }
            } else {
                logger.warning("a job's result was refused: its lease expired and it was rescued", metadata: metadata)
            }
        } catch {
            logger.error("recording a job's result failed; it runs again once its lease expires",
                         metadata: metadata.merging(["error": "\(String(reflecting: error))"]) { $1 })
        }
        state.withLock { state in
            state.held.remove(job)
            state.lastActivity = Date()
        }
        wake.signal()
    }

    /// Renews `job`'s lease until cancelled, the lease is found lost, or the attempt has run
    /// `attemptTimeout`: a hung attempt's lease is left to expire, so the rescuer hands the
    /// job to another worker and this attempt's late result is refused.
    private func keepLease(_ job: ClaimedJob, since start: ContinuousClock.Instant, clock: ContinuousClock) async {
        while (try? await Task.sleep(for: settings.heartbeatInterval)) != nil {
            guard start.duration(to: clock.now) < settings.attemptTimeout else {
                logger.warning("a job's attempt ran past the attempt timeout; its lease is left to expire",
                               metadata: ["job": "\(job.id)", "attempt": "\(job.attempt)", "timeoutSeconds": "\(settings.attemptTimeout.secondsText)"])
                return
            }
            do {
                guard try await abandoningOnCancel({ [queue, owner, settings] in
                    try await queue.heartbeat(job, owner: owner, lease: settings.leaseDuration)
                }) else {
                    logger.warning("a held job's lease was lost; its result will be refused", metadata: ["job": "\(job.id)"])
                    return
                }
            } catch {
                logger.warning("renewing a job's lease failed", metadata: ["job": "\(job.id)", "error": "\(String(reflecting: error))"])
            }
        }
    }

    private func run(_ duty: any PeriodicDuty) async throws {
        try await abandoningOnCancel { [queue] in try await queue.run(duty) }
    }

    private func rescue() async throws {
        for rescue in try await abandoningOnCancel({ [queue, owner] in try await queue.rescue(by: owner) }) {
            logger.warning("rescued a job whose lease expired", metadata: [
                "job": "\(rescue.id)", "receiver": "\(rescue.receiver)", "holder": "\(rescue.holder)", "state": "\(rescue.state.rawValue)",
            ])
        }
    }

    /// Waits up to `shutdownGrace` for held jobs, then releases what is left.
    private func drain() async {
        let deadline = ContinuousClock.now + settings.shutdownGrace
        while !Task.isCancelled, ContinuousClock.now < deadline, state.withLock({ !$0.held.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard !Task.isCancelled else { return }
        for job in state.withLock({ $0.held }) {
            let released = (try? await abandoningOnCancel { [queue, owner] in try await queue.release(job, owner: owner) }) ?? false
            logger.info("released a held job at shutdown", metadata: ["job": "\(job.id)", "released": "\(released)"])
        }
    }

    private func repeating(_ name: String, every interval: Duration, _ operation: @Sendable () async throws -> Void) async {
        repeat {
            if stopping { return }
            do { try await operation() } catch {
                logger.warning("a periodic worker duty failed", metadata: ["duty": "\(name)", "error": "\(String(reflecting: error))"])
            }
        } while (try? await Task.sleep(for: interval)) != nil
    }
}

/// Wakes the claim loop early: a slot freed, or the pool is stopping. A signal with no one
/// waiting is kept for the next wait.
final class Wakeup: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    func wait(upTo timeout: Duration) async {
        let timer = Task { [self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            signal()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: { signal() }
        timer.cancel()
    }
}
