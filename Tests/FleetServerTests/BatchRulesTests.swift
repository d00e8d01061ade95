import FleetServer
import FleetServerTesting
import HummingbirdTesting
import Testing
import Wire

/// `POST /v1/batches` in-process: every refusal has its exact status and reason, the admission
/// limits hold, and every answer says whether the batch was stored.
struct BatchRulesTests {
    @Test func aStoredBatchIsAckedAsJSON() async throws {
        try await InProcessServer.with { server, client in
            let response = try await client.post(SampleBatches.batch(), token: server.deviceToken)
            #expect(response.status.code == 200)
            #expect(response.headers[.contentType] == "application/json")
            #expect(response.text == #"{"events":{"duplicates":0,"inserted":2,"range":{"first":1,"last":2}},"#
                + #""healthStored":true,"readings":{"duplicates":0,"inserted":5,"range":{"first":1,"last":5}}}"#)
        }
    }

    // MARK: Refusals

    @Test func aMissingOrUnknownTokenIs401AndStoresNothing() async throws {
        try await InProcessServer.with { server, client in
            let missing = try await client.post(SampleBatches.batch(), token: nil)
            #expect(missing.status.code == 401)
            #expect(missing.wireError == WireError(error: "unauthorized", reason: "no bearer token; send Authorization: Bearer <device token>"))

            let wrong = try await client.post(SampleBatches.batch(), token: String(server.deviceToken.reversed()))
            #expect(wrong.status.code == 401)
            #expect(wrong.wireError == WireError(error: "unauthorized", reason:
                "the token is not registered; register the device with `fleet-server devices add NAME` and install its token"))
            #expect(server.store.readingCount == 0)
        }
    }

    @Test func aBatchClaimingAnotherDeviceIs403() async throws {
        try await InProcessServer.with { server, client in
            server.store.addDevice("reef-2")
            let response = try await client.post(SampleBatches.batch(device: "reef-2"), token: server.deviceToken)
            #expect(response.status.code == 403)
            #expect(response.wireError == WireError(error: "forbidden", reason: "token belongs to device reef-1, batch claims reef-2"))
            #expect(server.store.readingCount == 0)
        }
    }

    @Test func malformedBodiesAre400WithTheReason() async throws {
        try await InProcessServer.with { server, client in
            let token = server.deviceToken
            let notGzip = try await client.postBody(Array("{\"deviceID\":\"reef-1\"}".utf8), token: token)
            #expect(notGzip.status.code == 400)
            #expect(notGzip.wireError == WireError(error: "malformed", reason: "body is not valid gzip: incorrect header check"))

            let full = try WireCodec.encode(SampleBatches.batch())
            let truncated = try await client.postBody(Array(full.prefix(full.count / 2)), token: token)
            #expect(truncated.wireError == WireError(error: "malformed", reason: "body is not valid gzip: truncated"))

            var uneven = SampleBatches.batch()
            uneven.readings?.value.removeLast()
            let inconsistent = try await client.postBody(try WireCodec.encode(uneven), token: token)
            #expect(inconsistent.status.code == 400)
            #expect(inconsistent.wireError == WireError(error: "malformed", reason: "readings columns differ in length (sequence has 5 rows)"))

            let noStore = try await client.postBody(Gzip.compress(Array(#"{"version":1,"deviceID":"reef-1"}"#.utf8)), token: token)
            #expect(noStore.wireError == WireError(error: "malformed", reason: "body is not a valid batch: missing key storeID"))

            let plain = try await client.postBody(Array(#"{"version":1}"#.utf8), token: token, encoding: nil)
            #expect(plain.status.code == 415)
            #expect(plain.wireError == WireError(error: "unsupported_encoding", reason: "batches must be sent with Content-Encoding: gzip"))
            #expect(server.store.readingCount == 0)
        }
    }

    @Test func aRangeStartingAtInt64MinIs400AndTheServerStaysUp() async throws {
        try await InProcessServer.with { server, client in
            var batch = SampleBatches.batch(events: nil, health: false)
            batch.readings?.range.first = .min
            let response = try await client.post(batch, token: server.deviceToken)
            #expect(response.status.code == 400)
            #expect(response.wireError == WireError(error: "malformed",
                                                    reason: "readings.range -9223372036854775808...5 starts at a negative sequence"))
            #expect(try await client.get("/healthz").status.code == 200)

            var beyond = SampleBatches.batch(events: nil, health: false)
            beyond.readings?.range.last = .max
            let far = try await client.post(beyond, token: server.deviceToken)
            #expect(far.status.code == 400)
            #expect(far.wireError?.reason == "readings.range 1...9223372036854775807 ends after its last row 5; a range ends at the last row it carries")

            let trailing = try await client.postBody(try WireCodec.encode(SampleBatches.batch()) + [0, 0, 0, 0], token: server.deviceToken)
            #expect(trailing.status.code == 400)
            #expect(trailing.wireError?.reason == "body is not valid gzip: 4 bytes of trailing data after the gzip member")
            #expect(server.store.readingCount == 0)
        }
    }

    @Test func valuesPostgreSQLWouldRefuseAre400BeforeAnySQL() async throws {
        try await InProcessServer.with { server, client in
            func refusal(_ change: (inout SyncBatch) -> Void) async throws -> TestResponse {
                var batch = SampleBatches.batch()
                change(&batch)
                return try await client.post(batch, token: server.deviceToken)
            }
            let nul = try await refusal { $0.readings?.units[0] = "°C\u{0}" }
            #expect(nul.status.code == 400)
            #expect(nul.wireError == WireError(error: "malformed", reason: "readings.units[0] contains a NUL character"))

            let longStore = try await refusal { $0.storeID = String(repeating: "s", count: 5_000) }
            #expect(longStore.status.code == 400)
            #expect(longStore.wireError?.reason == "storeID is 5000 bytes long; the limit is 128")

            let eventNul = try await refusal { $0.events?.events[0].message = "hot\u{0}" }
            #expect(eventNul.wireError?.reason == "events[0].message contains a NUL character")

            let hugeHealth = try await refusal { $0.health?.reasons = Array(repeating: String(repeating: "r", count: 1_000), count: 100) }
            #expect(hugeHealth.status.code == 400)
            #expect(hugeHealth.wireError?.reason.hasPrefix("health is ") == true)
            #expect(hugeHealth.wireError?.reason.hasSuffix(" bytes as JSON; the limit is 65536") == true)

            let healthNul = try await refusal { $0.health?.sensors[0].lastError = "bus\u{0}" }
            #expect(healthNul.wireError?.reason == "health.sensors[0].lastError contains a NUL character")
            #expect(server.store.readingCount == 0)
            #expect(server.store.healthCount == 0)
            #expect(server.store.startedStores == 0)
        }
    }

    @Test func aBatchOverTheRowLimitIs413SoTheDeviceSplitsIt() async throws {
        try await InProcessServer.with(configure: { $0.maxBatchRows = 4 }) { server, client in
            let response = try await client.post(SampleBatches.batch(), token: server.deviceToken)
            #expect(response.status.code == 413)
            #expect(response.wireError == WireError(error: "too_large", reason: "batch of 7 rows exceeds the limit of 4 rows; split the batch"))
            #expect(response.headers[.connection] == "close")
        }
    }

    // MARK: Slots

    @Test func aBatchBeyondTheConcurrencyLimitIs503WithRetryAfter() async throws {
        try await InProcessServer.with(configure: { $0.maxConcurrentBatches = 1 }) { server, client in
            let first = try await server.postHeld(through: client)
            let second = try await client.post(SampleBatches.batch(readings: 6...7, events: nil, health: false), token: server.deviceToken)
            #expect(second.status.code == 503)
            #expect(second.headers[.retryAfter] == "5")
            #expect(second.wireError == WireError(error: "overloaded", reason: "the server is storing 1 batches already; retry later"))

            server.store.release()
            #expect(try await first.value.status.code == 200)
            #expect(server.store.readingCount == 5)
        }
    }

    @Test func oneDeviceGetsAtMostItsShareOfTheSlots() async throws {
        try await InProcessServer.with(configure: {
            $0.maxConcurrentBatches = 3
            $0.maxConcurrentBatchesPerDevice = 1
        }) { server, client in
            let other = server.store.addDevice("reef-2")
            let first = try await server.postHeld(through: client)
            let second = try await client.post(SampleBatches.batch(readings: 6...7, events: nil, health: false), token: server.deviceToken)
            #expect(second.status.code == 503)
            #expect(second.headers[.retryAfter] == "5")
            #expect(second.wireError == WireError(error: "overloaded", reason: "device reef-1 has 1 batches being stored already; retry later"))

            let fromOther = try await server.postHeld(SampleBatches.batch(device: "reef-2", events: nil, health: false), token: other,
                                                      through: client)
            server.store.release()
            #expect(try await first.value.status.code == 200)
            #expect(try await fromOther.value.status.code == 200)
            #expect(server.store.readingCount == 10)
        }
    }
}
