import Foundation
import Hummingbird
import Logging
import Wire

/// An answer other than 200, carrying a `WireError` body so a device can quarantine a
/// batch with the server's own words.
public struct FleetError: HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var wire: WireError
    /// Seconds for `Retry-After` (503 answers).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ error: String, _ reason: String, retryAfter: Int? = nil) {
        self.status = status
        self.wire = WireError(error: error, reason: reason)
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(wire.error): \(wire.reason)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        // The rest of the body may still be on its way (or never come): end the connection.
        if status == .contentTooLarge || status == .requestTimeout { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONAnswer.encode(wire))))
    }
}

enum JSONAnswer {
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Every answer type is plain data; encoding cannot fail.
        return Array(try! encoder.encode(value))
    }

    static func response<T: Encodable>(_ value: T) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: encode(value))))
    }
}

/// Turns every failure into a `WireError` answer, including Hummingbird's own (404 for an
/// unknown path, 405, 413 from body collection), so no client ever has to parse two
/// error formats. Unexpected errors are logged here and answered 500 without detail.
struct WireErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as FleetError {
            if error.status.code >= 500 { context.logger.warning("\(request.method) \(request.uri.path): \(error)") }
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            let fleetError = FleetError(error.status, error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"),
                                        error.body ?? error.status.reasonPhrase)
            return try fleetError.response(from: request, context: context)
        } catch {
            context.logger.error("\(request.method) \(request.uri.path) failed: \(String(reflecting: error))")
            return try FleetError(.internalServerError, "internal", "the server failed; the batch was not stored")
                .response(from: request, context: context)
        }
    }
}
