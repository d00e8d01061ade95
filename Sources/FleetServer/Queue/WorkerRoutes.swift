import Hummingbird
import Wire

/// The worker's HTTP API: public health (status only), and for the admin token the full
/// status and the job operations. Errors are `FleetError`s: 404 for an unknown job, 409 for
/// a job in a state the operation does not apply to, 400 for a bad query.
public struct WorkerRoutes: Sendable {
    let fleet: FleetRoutes
    let pool: WorkerPool
    let settings: WorkerSettings

    public init(fleet: FleetRoutes, pool: WorkerPool, settings: WorkerSettings) {
        self.fleet = fleet
        self.pool = pool
        self.settings = settings
    }

    /// The public answer: status only, 503 when unhealthy so a load balancer or monitor
    /// needs no JSON parsing.
    struct PublicHealth: ResponseEncodable, Sendable, Hashable {
        var status: HealthReport.Status
    }

    /// The admin answer.
    public struct Status: ResponseEncodable, Codable, Sendable, Hashable {
        public var status: HealthReport.Status
        public var reasons: [String]
        public var process: WorkerPool.Activity
        /// Jobs per state (every state present, 0 when none).
        public var queue: [String: Int]
        public var oldestDueSeconds: Double?
        public var windowSeconds: Double
        public var window: QueueSnapshot.Window
        public var errorRate: Double?
        public var receivers: [QueueSnapshot.ReceiverCounters]
    }

    struct Retried: ResponseEncodable, Sendable, Hashable {
        var receiver: String
        var retried: Int
    }

    /// Registers the routes; `FleetRoutes.register` has added the error middleware.
    public func register(on router: Router<FleetRequestContext>) {
        router.get("/v1/worker/health") { request, context in
            let health = WorkerHealth(await snapshot(context), thresholds: settings.health)
            var response = try context.responseEncoder.encode(PublicHealth(status: health.status), from: request, context: context)
            response.status = health.status == .unhealthy ? .serviceUnavailable : .ok
            return response
        }
        router.get("/v1/admin/worker/status") { request, context in
            try fleet.admin.require(request, context: context)
            let snapshot = await snapshot(context)
            let health = WorkerHealth(snapshot, thresholds: settings.health)
            let window = snapshot?.window ?? .init()
            return Status(status: health.status, reasons: health.reasons, process: pool.activity,
                          queue: Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, snapshot?.depth[$0] ?? 0) }),
                          oldestDueSeconds: snapshot?.oldestDueSeconds, windowSeconds: settings.health.window.inSeconds,
                          window: window, errorRate: window.errorRate, receivers: snapshot?.receivers ?? [])
        }
        router.get("/v1/admin/jobs") { request, context in
            try fleet.admin.require(request, context: context)
            let query = request.uri.queryParameters
            let state = try query.get("state").map { text in
                guard let state = JobState(rawValue: text) else {
                    throw FleetError(.badRequest, "bad_query", "state=\(text) is not one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return state
            }
            let receiver = query.get("receiver")
            let limit = try query.get("limit").map { text in
                guard let value = Int(text), (1...JobQueue.maxListLimit).contains(value) else {
                    throw FleetError(.badRequest, "bad_query", "limit=\(text) is not a number from 1 to \(JobQueue.maxListLimit)")
                }
                return value
            } ?? 100
            return try await fleet.fetching(context) { try await pool.queue.jobs(id: nil, state: state, receiver: receiver, limit: limit) }
        }
        router.post("/v1/admin/jobs/retry") { request, context in
            try fleet.admin.require(request, context: context)
            guard let receiver = request.uri.queryParameters.get("receiver"), !receiver.isEmpty else {
                throw FleetError(.badRequest, "bad_query", "say whose dead jobs to retry: ?receiver=NAME")
            }
            let count = try await fleet.fetching(context) { try await pool.queue.retryDead(receiver: receiver) }
            return Retried(receiver: receiver, retried: count)
        }
        router.post("/v1/admin/jobs/:id/retry") { request, context in
            try fleet.admin.require(request, context: context)
            let id = try jobID(context)
            try await adminOperation("retry", applies: "dead or cancelled", context) { try await pool.queue.retry(id: id) }
            return try await job(id, context)
        }
        router.post("/v1/admin/jobs/:id/cancel") { request, context in
            try fleet.admin.require(request, context: context)
            let id = try jobID(context)
            try await adminOperation("cancel", applies: "available or retryable", context) { try await pool.queue.cancel(id: id) }
            return try await job(id, context)
        }
    }

    /// The snapshot, or nil when the database does not answer within the deadline.
    private func snapshot(_ context: FleetRequestContext) async -> QueueSnapshot? {
        do {
            return try await withDeadline(fleet.configuration.databaseTimeout) { [queue = pool.queue, window = settings.health.window] in
                try await queue.snapshot(window: window)
            }
        } catch {
            context.logger.warning("the worker health check could not read the queue", metadata: ["error": "\(String(reflecting: error))"])
            return nil
        }
    }

    private func jobID(_ context: FleetRequestContext) throws -> Int64 {
        let text = context.parameters.get("id") ?? ""
        guard let id = Int64(text), id > 0 else { throw FleetError(.badRequest, "bad_path", "job id \"\(text)\" is not a positive number") }
        return id
    }

    private func job(_ id: Int64, _ context: FleetRequestContext) async throws -> JobRecord {
        let found = try await fleet.fetching(context) { [queue = pool.queue] in
            try await queue.jobs(id: id, state: nil, receiver: nil, limit: 1).first
        }
        guard let found else { throw FleetError(.notFound, "not_found", "no job \(id)") }
        return found
    }

    /// Runs a one-job admin operation, answering its refusal as 404 or 409; `applies`
    /// names the states it applies to, for the 409's reason.
    private func adminOperation(_ name: String, applies: String, _ context: FleetRequestContext,
                                _ operation: @escaping @Sendable () async throws -> Void) async throws {
        let refusal = try await fleet.fetching(context) { () -> JobAdminRefusal? in
            do {
                try await operation()
                return nil
            } catch let refusal as JobAdminRefusal {
                return refusal
            }
        }
        switch refusal {
        case nil:
            return
        case .notFound(let id):
            throw FleetError(.notFound, "not_found", "no job \(id)")
        case .wrongState(let id, .running, let holder):
            throw FleetError(.conflict, "job_running", "job \(id) is running on \(holder ?? "a worker"); an attempt in flight cannot be recalled: \(name) it once the attempt ends")
        case .wrongState(let id, let state, _):
            throw FleetError(.conflict, "wrong_state", "job \(id) is \(state.rawValue); \(name) applies to \(applies) jobs only")
        }
    }
}

extension JobRecord: ResponseEncodable {}
