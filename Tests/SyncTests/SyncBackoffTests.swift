import EdgeCore
import EdgeTesting
import Foundation
import Testing
@testable import Sync
import Wire

@Suite struct SyncBackoffTests {
    @Test func theJitterWindowDoublesFromTheBaseUntilTheCap() {
        var backoff = Backoff(base: .seconds(1), cap: .seconds(10))
        var random = SeededRandom(seed: 1)
        var ceilings: [Duration] = []
        for _ in 0..<6 {
            ceilings.append(backoff.ceiling)
            _ = backoff.nextDelay(using: &random)
        }
        #expect(ceilings == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10)])
        #expect(backoff.failures == 6)
    }

    @Test func delaysAreExactForASeedAndStayInsideTheirWindow() {
        var backoff = Backoff(base: .milliseconds(500), cap: .seconds(30))
        var random = SeededRandom(seed: 42)
        var delays: [Duration] = []
        for _ in 0..<8 {
            let ceiling = backoff.ceiling
            let delay = backoff.nextDelay(using: &random)
            #expect(delay >= .zero && delay <= ceiling)
            delays.append(delay)
        }
        #expect(delays.map(\.saturatingMillis) == [371, 160, 557, 1377, 304, 13892, 6552, 24019])
    }

    @Test func aSuccessResetsTheWindow() {
        var backoff = Backoff(base: .seconds(2), cap: .seconds(60))
        var random = SeededRandom(seed: 3)
        for _ in 0..<4 { _ = backoff.nextDelay(using: &random) }
        #expect(backoff.ceiling == .seconds(32))
        backoff.reset()
        #expect(backoff.failures == 0)
        #expect(backoff.ceiling == .seconds(2))
    }

    @Test func aLongOutageNeverOverflowsTheWindow() {
        var backoff = Backoff(base: .seconds(1), cap: .seconds(300))
        var random = SeededRandom(seed: 9)
        for _ in 0..<200 { #expect(backoff.nextDelay(using: &random) <= .seconds(300)) }
        #expect(backoff.ceiling == .seconds(300))
    }

    @Test func retryAfterInSeconds() {
        let cap = Duration.seconds(900)
        #expect(RetryAfter.delay("120", nowMillis: syncEpoch, cap: cap) == .seconds(120))
        #expect(RetryAfter.delay(" 0 ", nowMillis: syncEpoch, cap: cap) == .zero)
        #expect(RetryAfter.delay("86400", nowMillis: syncEpoch, cap: cap) == .seconds(900))
        #expect(RetryAfter.delay("99999999999999999999999", nowMillis: syncEpoch, cap: cap) == .seconds(900))
        #expect(RetryAfter.delay("-5", nowMillis: syncEpoch, cap: cap) == nil)
        #expect(RetryAfter.delay("1.5", nowMillis: syncEpoch, cap: cap) == nil)
        #expect(RetryAfter.delay("soon", nowMillis: syncEpoch, cap: cap) == nil)
        #expect(RetryAfter.delay("", nowMillis: syncEpoch, cap: cap) == nil)
    }

    @Test func retryAfterAsAnHTTPDateInAllThreeForms() {
        let cap = Duration.seconds(900)
        // syncEpoch is Thursday 2026-01-01T00:00:00Z.
        #expect(RetryAfter.delay("Thu, 01 Jan 2026 00:02:00 GMT", nowMillis: syncEpoch, cap: cap) == .seconds(120))
        #expect(RetryAfter.delay("Thursday, 01-Jan-26 00:02:00 GMT", nowMillis: syncEpoch, cap: cap) == .seconds(120))
        #expect(RetryAfter.delay("Thu Jan  1 00:02:00 2026", nowMillis: syncEpoch + 500, cap: cap) == .milliseconds(119_500))
        #expect(RetryAfter.delay("Wed, 31 Dec 2025 23:59:00 GMT", nowMillis: syncEpoch, cap: cap) == .zero)
        #expect(RetryAfter.delay("Fri, 02 Jan 2026 00:00:00 GMT", nowMillis: syncEpoch, cap: cap) == .seconds(900))
        #expect(RetryAfter.delay("Thu, 01 Foo 2026 00:02:00 GMT", nowMillis: syncEpoch, cap: cap) == nil)
        #expect(RetryAfter.delay("Thu, 01 Jan 2026 25:02:00 GMT", nowMillis: syncEpoch, cap: cap) == nil)
    }
}

@Suite struct SyncDispositionTests {
    private func classify(_ status: Int, body: [UInt8] = []) -> Disposition {
        Disposition.classify(.success(TransportResponse(status: status, body: body)))
    }

    @Test func statusesMapToTheTable() {
        #expect(classify(200) == .acknowledged)
        #expect(classify(204) == .acknowledged)
        #expect(classify(500) == .retry(reason: "HTTP 500: no reason given"))
        #expect(classify(503) == .retry(reason: "HTTP 503: no reason given"))
        #expect(classify(408) == .retry(reason: "HTTP 408: no reason given"))
        #expect(classify(429) == .retry(reason: "HTTP 429: no reason given"))
        #expect(classify(413) == .split(reason: "HTTP 413: no reason given"))
        #expect(classify(401) == .credentials(status: 401, reason: "no reason given"))
        #expect(classify(403) == .credentials(status: 403, reason: "no reason given"))
        #expect(classify(400) == .quarantine(status: 400, reason: "no reason given"))
        #expect(classify(404) == .quarantine(status: 404, reason: "no reason given"))
        #expect(classify(422) == .quarantine(status: 422, reason: "no reason given"))
        #expect(classify(302) == .retry(reason: "unexpected HTTP 302: no reason given"))
    }

    @Test func transportFailuresAreRetried() {
        #expect(Disposition.classify(.failure(TransportError(.tls, "certificate not trusted")))
                == .retry(reason: "tls error: certificate not trusted"))
        #expect(Disposition.classify(.failure(TransportError(.network, "connection reset")))
                == .retry(reason: "network error: connection reset"))
    }

    @Test func theServersReasonComesFromItsWireErrorGzippedOrPlain() throws {
        let error = WireError(error: "bad_batch", reason: "readings.value[3] is not finite")
        #expect(classify(400, body: try WireCodec.encode(error))
                == .quarantine(status: 400, reason: "bad_batch: readings.value[3] is not finite"))
        #expect(classify(400, body: Array(try JSONEncoder().encode(error)))
                == .quarantine(status: 400, reason: "bad_batch: readings.value[3] is not finite"))
        let page = Array(("<html>" + String(repeating: "x", count: 1000)).utf8)
        guard case .quarantine(_, let reason) = classify(400, body: page) else { Issue.record("not quarantined"); return }
        #expect(reason.count == 300)
    }
}

@Suite struct SyncTokenTests {
    private func write(_ text: String, mode: mode_t) throws -> (TemporaryDirectory, String) {
        let directory = try TemporaryDirectory("sync-tests")
        let path = directory.path + "/token"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
        return (directory, path)
    }

    @Test func aTokenFileOthersCanReadIsRefusedWithTheFix() throws {
        let (directory, path) = try write("s3cret-token\n", mode: 0o644)
        _ = directory
        #expect(throws: BearerToken.LoadError.tooOpen(path: path, mode: 0o644)) { try BearerToken.load(path: path) }
        let message = BearerToken.LoadError.tooOpen(path: path, mode: 0o644).description
        #expect(message.contains("chmod 600 \(path)"))
    }

    @Test func a0600TokenIsReadTrimmedAndNeverPrinted() throws {
        let (directory, path) = try write("  s3cret-token\n", mode: 0o600)
        _ = directory
        let token = try BearerToken.load(path: path)
        #expect(token.value == "s3cret-token")
        #expect("\(token)" == "BearerToken(<redacted>)")
        let configuration = CurlTransport.Configuration(serverURL: "https://fleet.example", token: token)
        #expect(!"\(configuration)".contains("s3cret"))
        let transport = try CurlTransport(configuration: configuration)
        #expect(!"\(transport)".contains("s3cret"))
    }

    @Test func emptyOversizedAndMultiWordTokensAreRefused() throws {
        let (d1, empty) = try write("\n", mode: 0o600)
        let (d2, large) = try write(String(repeating: "a", count: 5000), mode: 0o600)
        let (d3, spaced) = try write("two words", mode: 0o400)
        _ = (d1, d2, d3)
        #expect(throws: BearerToken.LoadError.empty(path: empty)) { try BearerToken.load(path: empty) }
        #expect(throws: BearerToken.LoadError.tooLarge(path: large, bytes: 5000)) { try BearerToken.load(path: large) }
        #expect(throws: BearerToken.LoadError.invalidCharacters(path: spaced)) { try BearerToken.load(path: spaced) }
    }

    @Test func aServerURLWithoutAnHTTPSchemeIsRefused() {
        #expect(throws: (any Error).self) {
            try CurlTransport(configuration: .init(serverURL: "fleet.example:8443", token: BearerToken("t")))
        }
    }
}
