import Hummingbird
import Wire

/// The read API: devices, a device's readings and events, for operators holding the admin
/// token.
extension FleetRoutes {
    static let maxReadLimit = 10_000

    func devices(_ request: Request, context: FleetRequestContext) async throws -> [DeviceSummary] {
        try admin.require(request, context: context)
        return try await fetching(context) { try await store.devices() }
    }

    func readings(_ request: Request, context: FleetRequestContext) async throws -> [StoredReading] {
        try admin.require(request, context: context)
        let device = try await namedDevice(context)
        let query = request.uri.queryParameters
        let (sensor, from, to, limit) = (query.get("sensor"), try millis(query, "from"), try millis(query, "to"), try limit(query))
        return try await fetching(context) {
            try await store.readings(of: device, sensor: sensor, fromMillis: from, toMillis: to, limit: limit)
        }
    }

    func events(_ request: Request, context: FleetRequestContext) async throws -> [StoredEvent] {
        try admin.require(request, context: context)
        let device = try await namedDevice(context)
        let query = request.uri.queryParameters
        let (from, to, limit) = (try millis(query, "from"), try millis(query, "to"), try limit(query))
        return try await fetching(context) { try await store.events(of: device, fromMillis: from, toMillis: to, limit: limit) }
    }

    private func namedDevice(_ context: FleetRequestContext) async throws -> Device {
        let name = context.parameters.get("name") ?? ""
        guard let device = try await fetching(context, { try await store.device(named: name) }) else {
            throw FleetError(.notFound, "not_found", "no device named \"\(name)\"")
        }
        return device
    }

    private func millis(_ query: Parameters, _ name: String) throws -> Int64? {
        guard let text = query.get(name) else { return nil }
        guard let value = Int64(text) else {
            throw FleetError(.badRequest, "bad_query", "\(name)=\(text) is not a Unix time in milliseconds")
        }
        return value
    }

    private func limit(_ query: Parameters) throws -> Int {
        guard let text = query.get("limit") else { return 1000 }
        guard let value = Int(text), (1...Self.maxReadLimit).contains(value) else {
            throw FleetError(.badRequest, "bad_query", "limit=\(text) is not a number from 1 to \(Self.maxReadLimit)")
        }
        return value
    }
}
