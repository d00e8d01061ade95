import EdgeCore
import EdgeTesting
import Foundation
import GRDB
import Notify
import NotifyDelivery
import Synchronization
import Wire

/// The alert engine's log and state as a stage reads them, appended to by a test.
final class TestAlertLog: NotifyEventSource, FiringRuleSource {
    private let events = Mutex<[WireAlertEvent]>([])
    private let rules = Mutex<[FiringRule]>([])

    @discardableResult
    func append(_ rule: String, _ kind: AlertEventKind, _ severity: AlertSeverity = .warning, at millis: Int64,
                silenced: Bool = false, message: String? = nil) -> WireAlertEvent {
        events.withLock { events in
            let event = WireAlertEvent(sequence: Int64(events.count + 1), ruleID: rule, sensorID: "s-\(rule)", kind: kind,
                                       severity: severity, value: nil, threshold: nil, timestampMillis: millis,
                                       activeSinceMillis: millis, message: message ?? "\(rule) \(kind.rawValue)", silenced: silenced)
            events.append(event)
            return event
        }
    }

    func setFiring(_ firing: [FiringRule]) { rules.withLock { $0 = firing } }

    func notifyEvents(afterSequence: Int64, limit: Int) throws -> [WireAlertEvent] {
        events.withLock { Array($0.filter { $0.sequence > afterSequence }.prefix(limit)) }
    }
    func notifyEventBacklog(afterSequence: Int64) throws -> Int { events.withLock { $0.filter { $0.sequence > afterSequence }.count } }
    func firingRules(nowMillis: Int64) throws -> [FiringRule] { rules.withLock { $0 } }
}

/// A transport that answers from a script (then accepts), recording every attempt with its
/// time: only for pacing tests on a stepping clock; the fault tests go through libcurl.
final class ScriptedTransport: NotifyTransport {
    struct Attempt: Sendable {
        var payload: NotifyPayload
        var atMillis: Int64
        var outcome: DeliveryOutcome
        var title: String { header("X-Title") ?? "" }
        var body: String {
            guard case .http(let request) = payload else { return "" }
            return String(decoding: request.body, as: UTF8.self)
        }
        func header(_ name: String) -> String? {
            guard case .http(let request) = payload else { return nil }
            return request.headers.first { $0.name == name }?.value
        }
    }

    private let state: Mutex<(script: [DeliveryOutcome], attempts: [Attempt])>
    private let clock: any DeviceClock
    /// Answers instead of the script while it returns non-nil (a service down for a while).
    private let override: @Sendable (Int64) -> DeliveryOutcome?

    init(clock: any DeviceClock, script: [DeliveryOutcome] = [], override: @escaping @Sendable (Int64) -> DeliveryOutcome? = { _ in nil }) {
        self.clock = clock
        self.state = Mutex((script, []))
        self.override = override
    }

    var attempts: [Attempt] { state.withLock { $0.attempts } }
    var delivered: [Attempt] { attempts.filter { $0.outcome == .accepted } }

    func send(_ payload: NotifyPayload, to target: NotifyTarget, credential: String?) async -> NotifyAnswer {
        let now = clock.now().unixMillis
        let outcome = override(now) ?? state.withLock { $0.script.isEmpty ? .accepted : $0.script.removeFirst() }
        state.withLock { $0.attempts.append(Attempt(payload: payload, atMillis: now, outcome: outcome)) }
        return NotifyAnswer(outcome: outcome, text: "")
    }
}

/// One stage on a stepping clock over a real SQLite ledger.
struct StageHarness {
    let clock = SteppingClock(unixMillis: 1_796_306_400_000) // 2026-12-03T14:00:00Z
    let log = TestAlertLog()
    let directory: TemporaryDirectory
    let ledger: NotifyLedger
    let target: NotifyTarget

    init(target: NotifyTarget = NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.example.org/reef")) throws {
        directory = try TemporaryDirectory("notify-stage")
        ledger = try NotifyLedger(writer: try DatabasePool(path: directory.databasePath))
        try ledger.register(target: target.id, startAfter: 0)
        self.target = target
    }

    var now: Int64 { clock.now().unixMillis }

    /// Runs the stage until `body` returns, then stops it.
    func run(_ transport: any NotifyTransport, window: Int = 1000, _ body: (NotifyStage) async throws -> Void) async throws {
        let stage = NotifyStage(target: target, settings: .init(device: "reef-1", window: window), ledger: ledger, events: log,
                                firing: log, transport: transport, clock: clock, random: SeededRandom(seed: 7))
        let task = Task { await stage.run() }
        await clock.waitForSleepers(1)
        defer { task.cancel() }
        try await body(stage)
        await stop(task)
    }

    /// Cancels the stage and waits for it.
    private func stop(_ task: Task<Void, Never>) async {
        task.cancel()
        await task.value
    }

    func advance(_ duration: Duration) async { await clock.advance(by: duration, settledAt: 1) }
}

/// The libcurl transport, with each attempt's time and outcome noted on the way through (the
/// receiver sees the requests; this sees when the stage made them).
final class RecordingTransport: NotifyTransport {
    let base = CurlNotifyTransport(configuration: .init(connectTimeout: .seconds(5), totalTimeout: .seconds(10)))
    let clock: any DeviceClock
    private let state = Mutex<[(atMillis: Int64, outcome: DeliveryOutcome)]>([])

    init(clock: any DeviceClock) { self.clock = clock }

    var attempts: [(atMillis: Int64, outcome: DeliveryOutcome)] { state.withLock { $0 } }

    func send(_ payload: NotifyPayload, to target: NotifyTarget, credential: String?) async -> NotifyAnswer {
        let at = clock.now().unixMillis
        let answer = await base.send(payload, to: target, credential: credential)
        state.withLock { $0.append((at, answer.outcome)) }
        return answer
    }
}

/// What a person's phone shows per ntfy request: one line per event (a group's lines, or a
/// single event's message), in arrival order.
func shownEvents(_ requests: [HTTPSReceiver.Request]) -> [String] {
    requests.flatMap { request -> [String] in
        let title = request.header("X-Title") ?? ""
        guard title.contains(" alerts (") else { return [request.text] }
        return request.text.split(separator: "\n").map { line in
            String(line[line.range(of: ": ")!.upperBound...])
        }
    }
}
