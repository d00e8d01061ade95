import EdgeCore
import Hummingbird
import NIOCore
import Wire

/// `POST /v1/batches`: authenticate, read and check the body, take a storage slot, store,
/// and answer with what happened to the batch.
extension FleetRoutes {
    func postBatch(_ request: Request, context: FleetRequestContext) async throws -> SyncAck {
        do {
            return try await receiveBatch(request, context: context)
        } catch {
            FleetMetrics.current?.rejected(reason: (error as? FleetError)?.wire.error ?? "internal")
            throw error
        }
    }

    private func receiveBatch(_ request: Request, context: FleetRequestContext) async throws -> SyncAck {
        guard let token = DeviceToken.bearer(request.headers[.authorization]) else {
            throw FleetError(.unauthorized, "unauthorized", "no bearer token; send Authorization: Bearer <device token>")
        }
        guard let device = try await fetching(context, { try await store.device(withToken: TokenHash(of: token)) }) else {
            throw FleetError(.unauthorized, "unauthorized",
                             "the token is not registered; register the device with `fleet-server devices add NAME` and install its token")
        }
        guard request.headers[.contentEncoding]?.lowercased() == "gzip" else {
            throw FleetError(.unsupportedMediaType, "unsupported_encoding", "batches must be sent with Content-Encoding: gzip")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.maxBodyBytes {
            throw FleetError(.contentTooLarge, "too_large",
                             "body of \(length) bytes exceeds the limit of \(configuration.maxBodyBytes) bytes; split the batch")
        }
        let batch = try decode(try await collect(request.body))
        guard batch.deviceID == device.name else {
            throw FleetError(.forbidden, "forbidden", "token belongs to device \(device.name), batch claims \(batch.deviceID)")
        }
        let rows = (batch.readings?.count ?? 0) + (batch.events?.events.count ?? 0)
        guard rows <= configuration.maxBatchRows else {
            throw FleetError(.contentTooLarge, "too_large",
                             "batch of \(rows) rows exceeds the limit of \(configuration.maxBatchRows) rows; split the batch")
        }
        let admitted = try await gate.run(device: device.id) {
            let ack = try await storing(context) { [store, configuration] starting in
                try await store.store(batch, from: device, statementTimeout: configuration.storeTimeout,
                                      healthReportsKept: configuration.healthReportsKept, starting: starting)
            }
            context.logger.debug("stored a batch", metadata: [
                "device": "\(device.name)",
                "readings.inserted": "\(ack.readings?.inserted ?? 0)", "readings.duplicates": "\(ack.readings?.duplicates ?? 0)",
                "events.inserted": "\(ack.events?.inserted ?? 0)", "events.duplicates": "\(ack.events?.duplicates ?? 0)",
            ])
            FleetMetrics.current?.stored(ack)
            return ack
        }
        switch admitted {
        case .success(let ack):
            return ack
        case .failure(.full):
            throw FleetError(.serviceUnavailable, "overloaded",
                             "the server is storing \(gate.limit) batches already; retry later", retryAfter: configuration.retryAfterSeconds)
        case .failure(.deviceBusy):
            throw FleetError(.serviceUnavailable, "overloaded",
                             "device \(device.name) has \(gate.perDeviceLimit) batches being stored already; retry later",
                             retryAfter: configuration.retryAfterSeconds)
        }
    }

    /// The batch in `body`, or 400 with the decoder's reason.
    private func decode(_ body: ByteBuffer) throws(FleetError) -> SyncBatch {
        do {
            return try WireCodec.decodeBatch(gzipped: Array(body.readableBytesView), inflateLimit: configuration.maxInflatedBytes)
        } catch {
            throw FleetError(.badRequest, "malformed", error.description)
        }
    }

    /// The whole body, up to `maxBodyBytes` (a chunked body has no Content-Length to check
    /// first) and within `bodyTimeout`, so a slow or stalled upload ends with 408 instead of
    /// holding the connection open for as long as the client likes. The reader is cancelled
    /// and awaited at the deadline: the connection reads the request's parts after the
    /// answer, and must be the only one reading them by then.
    private func collect(_ body: RequestBody) async throws -> ByteBuffer {
        let (limit, timeout) = (configuration.maxBodyBytes, configuration.bodyTimeout)
        let collected: ByteBuffer?
        do {
            collected = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
                group.addTask { try await body.collect(upTo: limit) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
        } catch is NIOTooManyBytesError {
            throw FleetError(.contentTooLarge, "too_large", "body exceeds the limit of \(limit) bytes; split the batch")
        }
        guard let collected else {
            throw FleetError(.requestTimeout, "body_timeout",
                             "the body did not arrive within \(timeout.secondsText) s; retry, or send smaller batches")
        }
        return collected
    }

    /// Runs a batch's store. It must start within `databaseTimeout`; once it writes, the
    /// server waits for the store's own answer (`storeTimeout` bounds each statement), so
    /// every answer says what happened to the batch: stored (200), not stored (503 with the
    /// reason; 400 when the database refused the batch's own data), or unknown because the
    /// connection broke during COMMIT (503 that says so: resending is safe, rows the server
    /// already holds count as duplicates).
    func storing<T: Sendable>(
        _ context: FleetRequestContext, _ operation: @escaping @Sendable (_ starting: @Sendable () throws -> Void) async throws -> T
    ) async throws -> T {
        let retryAfter = configuration.retryAfterSeconds
        do {
            return try await withStartDeadline(configuration.databaseTimeout, operation)
        } catch is DeadlineExceeded {
            context.logger.warning("no database connection for a batch in time", metadata: ["timeout": "\(configuration.databaseTimeout)"])
            throw FleetError(.serviceUnavailable, "database_unavailable",
                             "no database connection within \(configuration.databaseTimeout.secondsText) s; nothing was stored; retry later",
                             retryAfter: retryAfter)
        } catch FleetStoreFailure.commitUnknown(let detail) {
            context.logger.error("connection lost while committing a batch", metadata: ["error": "\(detail)"])
            throw FleetError(.serviceUnavailable, "commit_unknown",
                             "the database connection broke while committing; the batch may be stored; send it again (rows already stored count as duplicates)",
                             retryAfter: retryAfter)
        } catch FleetStoreFailure.timedOut {
            context.logger.warning("storing a batch exceeded the store timeout", metadata: ["timeout": "\(configuration.storeTimeout)"])
            throw FleetError(.serviceUnavailable, "database_timeout",
                             "storing the batch took longer than \(configuration.storeTimeout.secondsText) s and was rolled back; nothing was stored; retry later",
                             retryAfter: retryAfter)
        } catch FleetStoreFailure.refusedData(let state, let detail) {
            // The checks before the store should have refused these values; a retry would fail alike.
            context.logger.error("the database refused a batch's data", metadata: ["sqlstate": "\(state)", "error": "\(detail)"])
            throw FleetError(.badRequest, "malformed", "the database refused the batch's data (SQLSTATE \(state)); nothing was stored")
        } catch FleetStoreFailure.rejected(let state, let detail) {
            context.logger.error("the database rejected a batch", metadata: ["sqlstate": "\(state)", "error": "\(detail)"])
            throw FleetError(.internalServerError, "internal", "the database rejected the operation (SQLSTATE \(state)); nothing was stored")
        } catch {
            context.logger.warning("the database is unavailable while storing a batch", metadata: ["error": "\(error)"])
            throw FleetError(.serviceUnavailable, "database_unavailable", "the database is unavailable; nothing was stored; retry later",
                             retryAfter: retryAfter)
        }
    }
}
