import EdgeTesting
import FleetServer
import FleetServerTesting
import Foundation
import PostgresNIO
import Testing
import Wire

/// The fleet server against real PostgreSQL over real TLS, driven with curl.
@Suite(.serialized) struct ServerTests {
    // MARK: Storing

    @Test func aBatchIsStoredInOneGoAndAckedWithExactCounts() async throws {
        try await ServerHarness.with { server in
            let curl = Curl(caFile: server.certificates.ca)
            let response = try await curl.post(SampleBatches.batch(), to: server.url, token: server.deviceToken)

            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "application/json")
            #expect(try response.decode(SyncAck.self) == SyncAck(
                readings: .init(range: .init(first: 1, last: 5), inserted: 5, duplicates: 0),
                events: .init(range: .init(first: 1, last: 2), inserted: 2, duplicates: 0),
                healthStored: true))
            #expect(try await server.count("readings") == 5)
            #expect(try await server.count("alert_events") == 2)
            #expect(try await server.count("health") == 1)

            let rows = try await server.database.query("""
                SELECT d.name, r.store_id, r.sequence, r.sensor_id, r.ts_ms, r.value, r.unit, r.quality
                FROM readings r JOIN devices d ON d.id = r.device_id ORDER BY r.sequence
                """)
            var stored: [String] = []
            for try await (name, store, sequence, sensor, ts, value, unit, quality)
                in rows.decode((String, String, Int64, String, Int64, Double, String, String).self) {
                stored.append("\(name) \(store) \(sequence) \(sensor) \(ts) \(value) \(unit) \(quality)")
            }
            #expect(stored == [
                "reef-1 store-a 1 room.humidity 1700000001000 25.125 %RH ok",
                "reef-1 store-a 2 tank 1700000002000 25.25 °C ok",
                "reef-1 store-a 3 room.humidity 1700000003000 25.375 %RH suspect",
                "reef-1 store-a 4 tank 1700000004000 25.5 °C ok",
                "reef-1 store-a 5 room.humidity 1700000005000 25.625 %RH ok",
            ])
            let seen = try await server.database.query("SELECT last_seen IS NOT NULL FROM devices WHERE name = 'reef-1'")
            for try await lastSeenSet in seen.decode(Bool.self) { #expect(lastSeenSet) }
        }
    }

    @Test func aRetriedBatchInsertsNothingAndAnOverlappingOneOnlyItsNewRows() async throws {
        try await ServerHarness.with { server in
            let curl = Curl(caFile: server.certificates.ca)
            _ = try await curl.post(SampleBatches.batch(), to: server.url, token: server.deviceToken)

            let again = try await curl.post(SampleBatches.batch(), to: server.url, token: server.deviceToken)
            #expect(again.status == 200)
            #expect(try again.decode(SyncAck.self) == SyncAck(
                readings: .init(range: .init(first: 1, last: 5), inserted: 0, duplicates: 5),
                events: .init(range: .init(first: 1, last: 2), inserted: 0, duplicates: 2),
                healthStored: true))
            #expect(try await server.count("readings") == 5)
            #expect(try await server.count("alert_events") == 2)

            let overlapping = try await curl.post(SampleBatches.batch(readings: 4...8, events: nil, health: false),
                                                  to: server.url, token: server.deviceToken)
            #expect(try overlapping.decode(SyncAck.self) == SyncAck(
                readings: .init(range: .init(first: 4, last: 8), inserted: 3, duplicates: 2), healthStored: false))
            #expect(try await server.count("readings") == 8)

            // The same sequence numbers from another store of the same device are other rows.
            var otherStore = SampleBatches.batch(readings: 1...2, events: nil, health: false)
            otherStore.storeID = "store-b"
            let fromOtherStore = try await curl.post(otherStore, to: server.url, token: server.deviceToken)
            #expect(try fromOtherStore.decode(SyncAck.self).readings?.inserted == 2)
            #expect(try await server.count("readings") == 10)
        }
    }

    // MARK: Bodies over the wire

    @Test func aBodyOverTheLimitIs413WithOrWithoutContentLength() async throws {
        try await ServerHarness.with(configure: { $0.maxBodyBytes = 2048 }) { server in
            let curl = Curl(caFile: server.certificates.ca)
            var generator = SeededBytes(seed: 7)
            let body = (0..<3000).map { _ in generator.next() }
            let declared = try await curl.postBody(body, to: server.url, token: server.deviceToken)
            #expect(declared.status == 413)
            #expect(declared.wireError == WireError(error: "too_large",
                                                    reason: "body of 3000 bytes exceeds the limit of 2048 bytes; split the batch"))

            let chunked = try await curl.postBody(body, to: server.url, token: server.deviceToken, chunked: true)
            #expect(chunked.status == 413)
            #expect(chunked.wireError?.error == "too_large")

            let fits = try await curl.post(SampleBatches.batch(), to: server.url, token: server.deviceToken)
            #expect(fits.status == 200)
        }
    }

    // MARK: Overload and outages

    @Test func anUnreachableDatabaseIs503WithRetryAfterUntilItIsBack() async throws {
        try await ServerHarness.with(configure: { $0.retryAfterSeconds = 7 }) { server in
            let curl = Curl(caFile: server.certificates.ca)
            try await server.cluster.stop()

            let refused = try await curl.post(SampleBatches.batch(), to: server.url, token: server.deviceToken)
            #expect(refused.status == 503)
            #expect(refused.headers["retry-after"] == "7")
            #expect(refused.wireError == WireError(error: "database_unavailable", reason: "the database is unavailable; retry later"))
            #expect(try await curl.request("GET", server.url + "/healthz").status == 503)

            try await server.cluster.start()
            var status = 0
            for _ in 0..<40 where status != 200 {
                status = try await curl.post(SampleBatches.batch(), to: server.url, token: server.deviceToken).status
                if status != 200 { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(status == 200)
            #expect(try await server.count("readings") == 5)
        }
    }

    @Test func theServerStopsAndStartsOnTheSamePortWithItsData() async throws {
        try await ServerHarness.with { server in
            let curl = Curl(caFile: server.certificates.ca)
            _ = try await curl.post(SampleBatches.batch(), to: server.url, token: server.deviceToken)
            await server.stopServer()
            await #expect(throws: Processes.Failure.self) { try await curl.request("GET", server.url + "/healthz") }

            try await server.startServer()
            #expect(try await curl.request("GET", server.url + "/healthz").status == 200)
            let again = try await curl.post(SampleBatches.batch(), to: server.url, token: server.deviceToken)
            #expect(try again.decode(SyncAck.self).readings?.duplicates == 5)
        }
    }

    // MARK: TLS

    @Test func mutualTLSRefusesAClientWithoutACertificate() async throws {
        try await ServerHarness.with(requireClientCertificate: true) { server in
            let anonymous = Curl(caFile: server.certificates.ca)
            await #expect(throws: Processes.Failure.self) {
                try await anonymous.post(SampleBatches.batch(), to: server.url, token: server.deviceToken)
            }
            let identified = Curl(caFile: server.certificates.ca,
                                  clientCertificate: (server.certificates.clientCertificate, server.certificates.clientKey))
            let response = try await identified.post(SampleBatches.batch(), to: server.url, token: server.deviceToken)
            #expect(response.status == 200)
        }
    }

    @Test func aClientTrustingAnotherCARefusesTheServer() async throws {
        try await ServerHarness.with { server in
            let curl = Curl(caFile: server.certificates.untrustedCA)
            let failure = await #expect(throws: Processes.Failure.self) { try await curl.request("GET", server.url + "/healthz") }
            #expect(failure?.status == 60)  // curl: peer certificate cannot be authenticated with known CA certificates
        }
    }

    // MARK: Read API and tokens

    @Test func theReadAPIReturnsWhatWasStored() async throws {
        try await ServerHarness.with { server in
            let curl = Curl(caFile: server.certificates.ca)
            _ = try await curl.post(SampleBatches.batch(), to: server.url, token: server.deviceToken)
            let admin = ["Authorization": "Bearer \(server.adminToken)"]

            let devices = try await curl.request("GET", server.url + "/v1/devices", headers: admin)
            #expect(devices.status == 200)
            let summaries = try devices.decode([DeviceSummary].self)
            #expect(summaries.map(\.name) == ["reef-1"])
            #expect(summaries.first?.lastSeenMillis != nil)
            #expect(summaries.first?.lastHealth == SampleBatches.health)

            let tank = try await curl.request(
                "GET", server.url + "/v1/devices/reef-1/readings?sensor=tank&from=1700000002000&to=1700000004000", headers: admin)
            let readings = try tank.decode([StoredReading].self)
            #expect(readings.map { "\($0.storeID) \($0.sequence) \($0.sensorID) \($0.timestampMillis) \($0.value) \($0.unit) \($0.quality)" }
                    == ["store-a 2 tank 1700000002000 25.25 °C ok"])
            let limited = try await curl.request("GET", server.url + "/v1/devices/reef-1/readings?limit=2", headers: admin)
            #expect(try limited.decode([StoredReading].self).map(\.sequence) == [1, 2])

            let events = try await curl.request("GET", server.url + "/v1/devices/reef-1/events", headers: admin)
            #expect(try events.decode([StoredEvent].self).map(\.event) == SampleBatches.events(1...2))
            #expect(try events.decode([StoredEvent].self).map(\.storeID) == ["store-a", "store-a"])

        }
    }

    /// Every field of an event reaches PostgreSQL and the read API: a silenced event that
    /// switched the heater says so. Readings keep measured quality and clock state apart,
    /// and an older agent's `clock-unsynced` quality still sets the flag.
    @Test func silencedOutputAndClockStateAreStored() async throws {
        try await ServerHarness.with { server in
            let curl = Curl(caFile: server.certificates.ca)
            var batch = SampleBatches.batch(readings: 1...3, events: nil, health: false)
            batch.readings?.quality = ["suspect", "clock-unsynced", "ok"]
            batch.readings?.clockUnsynced = [true, false, false]
            let event = WireAlertEvent(
                sequence: 4, ruleID: "tank-hot", sensorID: "tank", kind: .actuated, severity: .critical, value: 0, threshold: nil,
                timestampMillis: 1_700_000_000_000, activeSinceMillis: nil, message: "", silenced: true, output: "heater")
            batch.events = EventBlock(range: .init(first: 1, last: 4), events: [event])
            let response = try await curl.post(batch, to: server.url, token: server.deviceToken)
            #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")

            let events = try await server.database.query("SELECT sequence, kind, silenced, output FROM alert_events")
            var storedEvents: [String] = []
            for try await (sequence, kind, silenced, output) in events.decode((Int64, String, Bool, String?).self) {
                storedEvents.append("\(sequence) \(kind) silenced=\(silenced) output=\(output ?? "-")")
            }
            #expect(storedEvents == ["4 actuated silenced=true output=heater"])
            let readings = try await server.database.query("SELECT sequence, quality, clock_unsynced FROM readings ORDER BY sequence")
            var storedReadings: [String] = []
            for try await (sequence, quality, unsynced) in readings.decode((Int64, String, Bool).self) {
                storedReadings.append("\(sequence) \(quality) unsynced=\(unsynced)")
            }
            #expect(storedReadings == ["1 suspect unsynced=true", "2 clock-unsynced unsynced=true", "3 ok unsynced=false"])

            let admin = ["Authorization": "Bearer \(server.adminToken)"]
            let read = try await curl.request("GET", server.url + "/v1/devices/reef-1/events", headers: admin)
            #expect(try read.decode([StoredEvent].self).map(\.event) == [event])
            let readReadings = try await curl.request("GET", server.url + "/v1/devices/reef-1/readings", headers: admin)
            #expect(try readReadings.decode([StoredReading].self).map(\.clockUnsynced) == [true, true, false])
        }
    }

    @Test func devicesAddKeepsOnlyTheTokensHash() async throws {
        try await ServerHarness.with { server in
            let store = PostgresFleetStore(client: server.database, logger: .init(label: "test"))
            let token = try await store.addDevice(name: "reef-9")
            #expect(token.count == 64)

            let rows = try await server.database.query("SELECT token_hash, row_to_json(devices)::text FROM devices WHERE name = 'reef-9'")
            for try await (buffer, wholeRow) in rows.decode((ByteBuffer, String).self) {
                let hash = Array(buffer.readableBytesView)
                #expect(hash == TokenHash(of: token).bytes)
                #expect(hash.count == 32)
                #expect(!wholeRow.contains(token))
            }
            let curl = Curl(caFile: server.certificates.ca)
            let response = try await curl.post(SampleBatches.batch(device: "reef-9"), to: server.url, token: token)
            #expect(response.status == 200)
            await #expect(throws: ConfigurationError.self) { try await store.addDevice(name: "reef-9") }
            await #expect(throws: ConfigurationError.self) { try await store.addDevice(name: "has space") }
        }
    }
}

/// Incompressible bytes without Foundation randomness, so a failure reproduces.
struct SeededBytes {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt8 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
}

extension ServerHarness {
    func count(_ table: String) async throws -> Int {
        let rows = try await database.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"))
        for try await value in rows.decode(Int64.self) { return Int(value) }
        return -1
    }

    /// Returns once a batch's INSERT waits on a lock the test holds.
    func waitForBlockedInsert() async throws {
        for _ in 0..<400 {
            let rows = try await database.query("""
                SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO readings%'
                """)
            for try await waiting in rows.decode(Int64.self) where waiting > 0 { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("no batch insert ever waited on the table lock")
    }
}
