import EdgeCore
import EdgeTesting
import FleetServerTesting
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import Testing
import Wire
@testable import Sync

/// Stores batches the way the fleet server does (insert what is new, count what it already
/// holds, acknowledge the ranges), in memory: the device side over real libcurl and TLS,
/// without PostgreSQL.
final class SyncStandInStore: Sendable {
    struct State {
        var readings: [Int64: String] = [:]
        var events: Set<Int64> = []
        var duplicates = 0
        var healthReports = 0
    }

    let state = Mutex(State())

    func store(_ batch: SyncBatch) -> SyncAck {
        state.withLock { state in
            var ack = SyncAck(healthStored: batch.health != nil)
            if batch.health != nil { state.healthReports += 1 }
            if let block = batch.readings {
                var inserted = 0
                for (index, sequence) in block.sequence.enumerated() {
                    if state.readings.updateValue(block.sensors[Int(block.sensor[index])], forKey: sequence) == nil {
                        inserted += 1
                    }
                }
                state.duplicates += block.count - inserted
                ack.readings = .init(range: block.range, inserted: inserted, duplicates: block.count - inserted)
            }
            if let block = batch.events {
                let inserted = block.events.filter { state.events.insert($0.sequence).inserted }.count
                state.duplicates += block.events.count - inserted
                ack.events = .init(range: block.range, inserted: inserted, duplicates: block.events.count - inserted)
            }
            return ack
        }
    }

    var readingsPerSensor: [String: Int] {
        state.withLock { Dictionary(grouping: $0.readings.values, by: { $0 }).mapValues(\.count) }
    }
}

@Suite struct SyncOverTLSTests {
    @Test func fiveHundredThen429ThenADroppedAnswerLoseNothingAndStoreNothingTwice() async throws {
        let certificates = try await TestCertificates.generate()
        let stored = SyncStandInStore()
        let server = try await SyncEchoServer(certificates: certificates) { index, body in
            switch index {
            case 1:
                return Response(status: .internalServerError,
                                body: .init(byteBuffer: ByteBuffer(string: #"{"error":"internal","reason":"database unavailable"}"#)))
            case 2:
                return Response(status: .tooManyRequests, headers: [.retryAfter: "3"])
            default:
                let ack = stored.store(try! WireCodec.decodeBatch(gzipped: body))
                guard index != 3 else {
                    // Stored, then the connection dies halfway through the answer.
                    return Response(status: .ok, headers: [.contentLength: "4096"], body: ResponseBody { writer in
                        try await writer.write(ByteBuffer(string: #"{"readings":"#))
                        throw CancellationError()
                    })
                }
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: try! WireCodec.encode(ack))))
            }
        }
        let transport = try CurlTransport(configuration: .init(
            serverURL: server.url, token: BearerToken("tok"), caFile: certificates.ca, totalTimeout: .seconds(5)))
        let fixture = try SyncFixture(readings: 23, events: 3, configure: { $0.maxBatchRows = 10 },
                                      stop: { $0 == .seconds(10) }, over: transport, sensors: ["tank", "room.humidity"])

        await #expect(throws: CancellationError.self) { try await fixture.engine.run() }
        await server.stop()

        var expected = Backoff(base: .seconds(1), cap: .seconds(60))
        var random = SeededRandom(seed: 7)
        let jitter = (0..<3).map { _ in expected.nextDelay(using: &random) }
        #expect(fixture.clock.sleeps == [jitter[0], .seconds(3), jitter[2]])
        #expect(server.requests.count == 6) // 500, 429, dropped, its resend, two more batches
        #expect(stored.readingsPerSensor == ["tank": 12, "room.humidity": 11])
        #expect(stored.state.withLock { $0.events } == [1, 2, 3])
        #expect(stored.state.withLock { $0.duplicates } == 10) // the dropped answer's batch, resent
        let status = try await fixture.engine.status()
        #expect(status.readings.ackedThrough == 23)
        #expect(status.events.ackedThrough == 3)
        #expect(status.readings.rowsInserted == 16)
        #expect(status.readings.rowsDuplicate == 7)
        #expect(status.consecutiveFailures == 0)
        #expect(try fixture.store.queries.backlog(afterSequence: 0).count == 23)
    }

    @Test func anUntrustedCertificateKeepsEverythingAndSaysWhy() async throws {
        let certificates = try await TestCertificates.generate()
        let server = try await SyncEchoServer(certificates: certificates) { _, _ in Response(status: .ok) }
        let transport = try CurlTransport(configuration: .init(serverURL: server.url, token: BearerToken("tok"), caFile: certificates.untrustedCA))
        let fixture = try SyncFixture(readings: 4, events: 1, over: transport)

        await #expect(throws: SyncError.self) { try await fixture.engine.syncOnce(maxConsecutiveFailures: 2) }
        await server.stop()

        #expect(server.requests.isEmpty)
        let status = try await fixture.engine.status()
        #expect(status.readings.ackedThrough == 0)
        #expect(status.events.ackedThrough == 0)
        #expect(status.readings.backlogRows == 4)
        #expect(status.deadLetters == [])
        #expect(status.consecutiveFailures == 2)
        #expect(status.lastError?.hasPrefix("tls error: ") == true)
        #expect(try fixture.store.queries.backlog(afterSequence: 0).count == 4)
    }
}
