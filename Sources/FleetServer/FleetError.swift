import Foundation
import Hummingbird
import Logging
import Wire

/// An answer other than 200, carrying a `WireError` body so a device can quarantine a
/// batch with the server's own words.
public struct FleetError: HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var wire: WireError
    /// Seconds for `Retry-After` (503 and 429 answers).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ error: String, _ reason: String, retryAfter: Int? = nil) {
        self.status = status
        self.wire = WireError(error: error, reason: reason)
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(wire.error): \(wire.reason)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(wire, from: request, context: context)
        response.status = status
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        // The rest of the body may still be on its way (or never come): end the connection.
        if status == .contentTooLarge || status == .requestTimeout { response.headers[.connection] = "close" }
        return response
    }
}

/// The server's JSON answers: Hummingbird's JSON encoding with sorted keys (the same
/// bytes for the same answer) and the plain `application/json` type docs/PROTOCOL.md names.
public struct FleetJSONEncoder: ResponseEncoder {
    public init() {}

    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var response = try encoder.encode(value, from: request, context: context)
        response.headers[.contentType] = "application/json"
        return response
    }
}

/// Turns every failure into a `WireError` answer, including Hummingbird's own (404 for an
/// unknown path, 405), so no client ever has to parse two error formats. Unexpected errors
/// are logged here and answered 500 without detail.
struct WireErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as FleetError {
            if error.status.code >= 500 {
                context.logger.warning("request failed", metadata: [
                    "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(error.status.code)",
                    "error": "\(error.wire.error)", "reason": "\(error.wire.reason)",
                ])
            }
            return try error.response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            let reason = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            return try FleetError(error.status, error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"), reason)
                .response(from: request, context: context)
        } catch {
            context.logger.error("request failed unexpectedly", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(String(reflecting: error))",
            ])
            return try FleetError(.internalServerError, "internal", "the server failed; the batch was not stored")
                .response(from: request, context: context)
        }
    }
}
