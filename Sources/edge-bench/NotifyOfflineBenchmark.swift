import AlertEngine
import EdgeCore
import EdgeTesting
import Foundation
import Logging
import Notify
import NotifyDelivery
import Readings
import Wire

/// Memory through a simulated day offline with alerts firing (issue 13): undelivered events
/// must wait in SQLite, not in the delivery stage's memory.
///
/// One run is a day on a `SteppingClock`: four critical rules fire and resolve every twenty
/// minutes on the real `AlertEngine` and `AlertStore` (576 events a day), while a real
/// `NotifyStage` tries its ntfy target through libcurl at a port where nothing listens —
/// every attempt a real connection refused, retried with its backoff, the offline collapse
/// replanned as the day goes on. The process's RSS is read after the first simulated hour
/// and at the end. The baseline is the same day without the stage, in the same process,
/// alternately, so what the engine and SQLite's page cache grow is not charged to Notify.
struct NotifyOfflineBenchmark {
    let hours: Int
    let runs: Int

    static let sensors = ["tank", "sump", "ato", "leak"]

    static func rule(_ sensor: String) -> AlertRule {
        AlertRule(id: "\(sensor)-high", sensorID: sensor, condition: .threshold(op: .greater, value: 28, clear: 27.5),
                  severity: .critical, description: "\(sensor) {value} {unit}",
                  // Twenty-minute swings are not flapping; a default policy would (rightly) stop the events.
                  flapping: AlertRule.FlapPolicy(changes: 1000, window: .milliseconds(1)))
    }

    struct Day {
        var growthMiB: Double
        var events: Int
        var pending: Int
        var attempts: Int
    }

    func figures() throws -> [Figure] {
        var growth: [Double] = []
        var baseline: [Double] = []
        var pending: [Double] = []
        // A first day of each kind, not counted: the allocator's arenas, libcurl's and
        // SQLite's first use grow a fresh process once, whatever the day holds.
        _ = try blocking { try await Self.day(hours: hours, notify: false) }
        _ = try blocking { try await Self.day(hours: hours, notify: true) }
        for _ in 0..<runs {
            let without = try blocking { try await Self.day(hours: hours, notify: false) }
            let with = try blocking { try await Self.day(hours: hours, notify: true) }
            guard with.pending == with.events, with.attempts > 0 else {
                throw BenchError("offline day: \(with.events) events, \(with.pending) pending, \(with.attempts) attempts; every event must wait and the stage must keep trying")
            }
            growth.append(with.growthMiB)
            baseline.append(without.growthMiB)
            pending.append(Double(with.pending))
        }
        return [
            Figure(name: "notify offline \(hours) h: RSS growth hour 1 → \(hours) (baseline: no stage)", unit: "MiB",
                   samples: growth, baseline: baseline, goals: [.atMost(1)], judgedOnMax: true),
            Figure(name: "notify offline \(hours) h: events waiting in SQLite at the end", unit: "events", samples: pending),
        ]
    }

    static func day(hours: Int, notify: Bool) async throws -> Day {
        let scratch = try Scratch("notify-offline")
        let clock = SteppingClock()
        let database = try LocalDatabase.open(path: scratch.file("edge.sqlite"))
        let alerts = try AlertStore(writer: database.writer)
        let engine = try AlertEngine(rules: sensors.map(rule), store: alerts, clock: clock)
        let ledger = try NotifyLedger(writer: database.writer)
        let feed = StoreFeed(store: alerts)
        let port = try Processes.freePort()
        let attempts = CountingTransport(base: CurlNotifyTransport())
        let stage = NotifyStage(
            target: NotifyTarget(id: "phone", kind: .ntfy, url: "https://127.0.0.1:\(port)/reef"),
            settings: NotifyStage.Settings(device: "bench"), ledger: ledger, events: feed, firing: feed,
            transport: attempts, clock: clock, logger: quiet)
        let running = notify ? Task { await stage.run() } : nil
        defer { running?.cancel() }
        let sleepers = notify ? 1 : 0
        // A new target's cursor starts at the newest event (it is not sent the history), so
        // the day starts once the stage has registered and sleeps.
        await clock.waitForSleepers(sleepers)

        var hourOne = 0
        for minute in 0..<(hours * 60) {
            let hot = minute % 20 < 10
            for sensor in sensors {
                let sample = Sample(sensorID: sensor, value: hot ? 29 : 26, unit: "°C", quality: .ok, time: clock.now())
                if !(try engine.evaluate(sample)).isEmpty { stage.wakeup.ring() }
            }
            await clock.advance(by: .seconds(60), settledAt: sleepers)
            if minute == 59 { hourOne = rssKiB() }
        }
        let end = rssKiB()
        let events = try alerts.eventBacklog(afterSequence: 0)
        let status = notify ? try NotifyStatus.read(ledger: ledger, target: "phone", events: feed, nowMillis: clock.now().unixMillis) : nil
        running?.cancel()
        _ = await running?.value
        return Day(growthMiB: Double(end - hourOne) / 1024, events: events, pending: status?.pending ?? events,
                   attempts: attempts.count)
    }

    /// Each refused attempt is a warning in the daemon's log; here they would bury the table.
    static let quiet: Logger = {
        var logger = Logger(label: "edge-bench.notify")
        logger.logLevel = .critical
        return logger
    }()

    static func rssKiB() -> Int { ProcSample.read(pid: getpid())?.rssKiB ?? 0 }
}

/// The alert store as the stage's event and firing-rule sources, as the agent's
/// `AlertEventFeed` is (which lives in the executable, out of the benchmark's reach).
private struct StoreFeed: NotifyEventSource, FiringRuleSource {
    let store: AlertStore

    func notifyEvents(afterSequence: Int64, limit: Int) throws -> [WireAlertEvent] {
        try store.events(afterSequence: afterSequence, limit: min(limit, AlertStore.maxLimit))
    }

    func notifyEventBacklog(afterSequence: Int64) throws -> Int { try store.eventBacklog(afterSequence: afterSequence) }

    func firingRules(nowMillis: Int64) throws -> [FiringRule] {
        try store.active().filter { $0.state != .pending }.map {
            FiringRule(ruleID: $0.ruleID, sensorID: $0.sensorID, severity: $0.severity, firingSinceMillis: $0.sinceMillis,
                       acknowledged: $0.acknowledged, message: $0.message)
        }
    }
}

/// libcurl, counting the attempts it made.
private final class CountingTransport: NotifyTransport, @unchecked Sendable {
    // @unchecked: `attempts` is guarded by `lock`.
    let base: CurlNotifyTransport
    private let lock = NSLock()
    private var attempts = 0

    init(base: CurlNotifyTransport) { self.base = base }

    var count: Int { lock.withLock { attempts } }

    func send(_ payload: NotifyPayload, to target: NotifyTarget, credential: String?) async -> NotifyAnswer {
        lock.withLock { attempts += 1 }
        return await base.send(payload, to: target, credential: credential)
    }
}
