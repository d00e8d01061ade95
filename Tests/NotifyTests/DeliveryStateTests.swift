import EdgeCore
import Notify
import NotifyDelivery
import Testing
import Wire

@Suite struct DeliveryStateTests {
    enum Expect {
        case delivered
        /// A jittered wait inside the window of the given ceiling (ms), or exactly the Retry-After wait.
        case retry(ceilingMillis: Int64, exactMillis: Int64? = nil)
        case deadLetter(status: Int, reason: String, ceilingMillis: Int64)
    }

    /// One target's attempts in order, at a fixed time, with backoff 1 s…8 s and seed 7. Each
    /// failure draws once from the generator, so the reference generator replays the draws;
    /// the Retry-After rows are exact, because the service's wait exceeds the jitter window.
    @Test func everyOutcomeLeadsToTheDocumentedNextState() {
        let now: Int64 = 1_000_000
        let range = SequenceRange(first: 41, last: 43)
        let table: [(DeliveryOutcome, Expect)] = [
            (.http(status: 500, reason: "Internal Server Error"), .retry(ceilingMillis: 1000)),
            (.networkError("connection refused"), .retry(ceilingMillis: 2000)),
            (.http(status: 429, reason: "slow down", retryAfter: "30"), .retry(ceilingMillis: 4000, exactMillis: 30_000)),
            (.timeout, .retry(ceilingMillis: 8000)),
            (.http(status: 503, reason: "", retryAfter: "not a date"), .retry(ceilingMillis: 8000)),
            (.accepted, .delivered),
            // The date form: 00:20:00 is 1 200 000 ms since the epoch, 200 s after `now`.
            (.http(status: 429, reason: "", retryAfter: "Thu, 01 Jan 1970 00:20:00 GMT"),
             .retry(ceilingMillis: 1000, exactMillis: 200_000)),
            (.http(status: 400, reason: "message too long"), .deadLetter(status: 400, reason: "message too long", ceilingMillis: 2000)),
            (.http(status: 204, reason: ""), .delivered),
            (.http(status: 408, reason: "Request Timeout"), .retry(ceilingMillis: 1000)),
            (.http(status: 401, reason: ""), .deadLetter(status: 401, reason: "HTTP 401", ceilingMillis: 2000)),
            (.http(status: 301, reason: "Moved Permanently"), .deadLetter(status: 301, reason: "Moved Permanently", ceilingMillis: 4000)),
            // SMTP's classes are the other way round: 4yz transient, 5yz permanent.
            (.smtp(code: 451, reason: "greylisted, try again later"), .retry(ceilingMillis: 8000)),
            (.smtp(code: 250, reason: "OK queued"), .delivered),
            (.smtp(code: 550, reason: "no such user"), .deadLetter(status: 550, reason: "no such user", ceilingMillis: 1000)),
        ]
        var state = DeliveryState(backoff: Backoff(base: .seconds(1), cap: .seconds(8)))
        var random = SeededRandom(seed: 7)
        var reference = SeededRandom(seed: 7)
        for (index, (outcome, expect)) in table.enumerated() {
            let decision = state.record(outcome, for: range, nowMillis: now, random: &random)
            switch (expect, decision) {
            case (.delivered, .delivered(let through)):
                #expect(through == 43, "row \(index)")
                #expect(state.nextAttemptMillis == nil && state.lastError == nil && state.backoff.failures == 0)
            case (.retry(let ceiling, let exact), .retry(let at, let reason)):
                let draw = Int64.random(in: 0...ceiling, using: &reference)
                #expect(at == now + max(draw, exact ?? 0), "row \(index): \(reason)")
                if let exact { #expect(at == now + exact, "row \(index) honours Retry-After") }
                #expect(state.nextAttemptMillis == at && state.lastError == reason)
                #expect(!state.mayAttempt(nowMillis: at - 1) && state.mayAttempt(nowMillis: at))
            case (.deadLetter(let status, let reason, let ceiling), .deadLetter(let letterRange, let gotStatus, let gotReason, let next)):
                let draw = Int64.random(in: 0...ceiling, using: &reference)
                #expect(letterRange == range && gotStatus == status && gotReason == reason, "row \(index)")
                #expect(next == now + draw, "row \(index): dead letters in a row are spaced by the backoff")
            default:
                Issue.record("row \(index): \(outcome) gave \(decision), expected \(expect)")
            }
        }
    }

    @Test func theLastErrorSaysWhatTheServiceAnswered() {
        var state = DeliveryState()
        var random = SeededRandom(seed: 1)
        let range = SequenceRange(first: 5, last: 5)
        _ = state.record(.http(status: 502, reason: "Bad Gateway"), for: range, nowMillis: 0, random: &random)
        #expect(state.lastError == "HTTP 502: Bad Gateway")
        _ = state.record(.http(status: 422, reason: "unknown chat"), for: range, nowMillis: 0, random: &random)
        #expect(state.lastError == "dead-lettered 5...5 (HTTP 422: unknown chat)")
        _ = state.record(.accepted, for: range, nowMillis: 0, random: &random)
        #expect(state.lastError == nil && state.mayAttempt(nowMillis: 0))
    }

    @Test func aHugeRetryAfterIsCapped() {
        var state = DeliveryState(backoff: Backoff(base: .seconds(1), cap: .seconds(2)), retryAfterCap: .seconds(600))
        var random = SeededRandom(seed: 3)
        let decision = state.record(.http(status: 429, reason: "", retryAfter: "604800"), for: SequenceRange(first: 1, last: 1),
                                    nowMillis: 0, random: &random)
        #expect(decision == .retry(atMillis: 600_000, reason: "HTTP 429"))
    }
}
