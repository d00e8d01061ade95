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
        var held: [Int64: ClaimedJob] = [:]
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
                group.addTask { await self.repeating(duty.name, every: duty.interval) { try await self.queue.run(duty) } }
            }
            while !stopping && !Task.isCancelled {
                let free = settings.concurrency - state.withLock { $0.held.count }
                if free > 0 && !handlers.isEmpty {
                    do {
                        let jobs = try await queue.claim(free, owner: owner, lease: settings.leaseDuration)
                        state.withLock { state in for job in jobs { state.held[job.id] = job } }
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
        let heartbeat = Task { await keepLease(job) }
        let clock = ContinuousClock()
        let start = clock.now
        let result: JobResult
        if let handler = handlers[job.kind] {
            result = await handler.perform(job)
        } else {
            result = .dead(error: "no handler for kind \"\(job.kind)\" in this server (it handles \(handlers.keys.sorted().joined(separator: ", "))); retry it once a server that handles it runs")
        }
        let latency = start.duration(to: clock.now)
        heartbeat.cancel()
        let metadata: Logger.Metadata = ["job": "\(job.id)", "kind": "\(job.kind)", "receiver": "\(job.receiver)", "attempt": "\(job.attempt)"]
        do {
            if let settlement = try await queue.finish(job, owner: owner, result: result, latency: latency, policy: settings.retryPolicy) {
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
            state.held[job.id] = nil
            state.lastActivity = Date()
        }
        wake.signal()
    }

    /// Renews `job`'s lease until cancelled or the lease is found lost.
    private func keepLease(_ job: ClaimedJob) async {
        while (try? await Task.sleep(for: settings.heartbeatInterval)) != nil {
            do {
                guard try await queue.heartbeat(job, owner: owner, lease: settings.leaseDuration) else {
                    logger.warning("a held job's lease was lost; its result will be refused", metadata: ["job": "\(job.id)"])
                    return
                }
            } catch {
                logger.warning("renewing a job's lease failed", metadata: ["job": "\(job.id)", "error": "\(String(reflecting: error))"])
            }
        }
    }

    private func rescue() async throws {
        for rescue in try await queue.rescue(by: owner) {
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
        for job in state.withLock({ Array($0.held.values) }) {
            let released = (try? await queue.release(job, owner: owner)) ?? false
            logger.info("released a held job at shutdown", metadata: ["job": "\(job.id)", "released": "\(released)"])
        }
    }

    private func repeating(_ name: String, every interval: Duration, _ operation: @Sendable () async throws -> Void) async {
        repeat {
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
