/// What the engine needs from HTTP: post one batch body, get the answer back.
///
/// The seam exists so that the engine's retry and quarantine logic can be driven by a
/// scripted transport in unit tests; the device and the end-to-end tests use `CurlTransport`.
public protocol SyncTransport: Sendable {
    /// Posts a gzip-compressed `SyncBatch` body. A non-2xx status is an answer, not an
    /// error: only failing to get an answer at all throws.
    func post(batch body: [UInt8]) async throws(TransportError) -> TransportResponse
}

public struct TransportResponse: Sendable, Hashable {
    public var status: Int
    public var body: [UInt8]
    /// The raw `Retry-After` header value, if the server sent one.
    public var retryAfter: String?

    public init(status: Int, body: [UInt8] = [], retryAfter: String? = nil) {
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
    }
}

/// No HTTP answer was obtained. Every kind but `cancelled` is retried with backoff: the server may come
/// back, the network may return, an operator may install the right CA.
public struct TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// DNS, refused or reset connections, a connection dropped mid-response.
        case network
        /// Handshake failed or the peer's certificate was not trusted.
        case tls
        case timeout
        /// The answer exceeded the transport's response size cap.
        case responseTooLarge
        /// The awaiting task was cancelled (the agent is stopping) and the transfer was
        /// abandoned; the engine does not count it as a failure.
        case cancelled
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue) error: \(message)" }
}
