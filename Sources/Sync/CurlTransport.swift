import CCurl
import EdgeCore
import EdgeCurl
import Foundation
import Wire

/// HTTPS through libcurl: one easy handle in one multi handle, reused so that batches after
/// the first ride the same TLS connection (keep-alive), driven on `BlockingIO.network` so
/// that waiting on the network never occupies a thread of Swift's cooperative pool, where
/// the sensor pollers run.
///
/// Cancelling the task that awaits `post` aborts the transfer at once, whatever the server
/// does (a hung answer, a stalled handshake): the transfer runs in `curl_multi_poll`, which
/// `curl_multi_wakeup` interrupts from the cancelling thread. Stopping the agent therefore
/// never waits for `totalTimeout`.
public final class CurlTransport: SyncTransport, CustomStringConvertible, @unchecked Sendable {
    // @unchecked: the handles, header list and buffers are touched only by transfers on
    // `BlockingIO.network`, whose one thread runs them one after another, and by
    // `curl_multi_wakeup`, which libcurl documents as callable from any thread.

    public struct Configuration: Sendable, CustomStringConvertible {
        /// Server base URL, e.g. `https://fleet.example:8443`; batches go to `WireProtocol.batchPath`.
        public var serverURL: String
        public var token: BearerToken
        /// PEM bundle of CAs to trust instead of the system store (a private fleet CA).
        public var caFile: String?
        /// Client certificate and key (PEM) for servers that require mutual TLS.
        public var clientCertificate: String?
        public var clientKey: String?
        public var connectTimeout: Duration
        /// The whole exchange, upload included.
        public var totalTimeout: Duration
        /// Answers beyond this are cut off and reported; an ack is a few hundred bytes.
        public var maxResponseBytes: Int
        /// Verification is on unless this is set; only for a lab server without a certificate.
        public var insecureSkipVerify: Bool
        /// Allows an `http://` URL to a loopback address (a local test server). Plain HTTP
        /// would carry the bearer token in clear, so any other `http://` URL is refused.
        public var allowInsecureHTTP: Bool

        public init(serverURL: String, token: BearerToken, caFile: String? = nil, clientCertificate: String? = nil,
                    clientKey: String? = nil, connectTimeout: Duration = .seconds(10), totalTimeout: Duration = .seconds(60),
                    maxResponseBytes: Int = 64 * 1024, insecureSkipVerify: Bool = false, allowInsecureHTTP: Bool = false) {
            self.serverURL = serverURL
            self.token = token
            self.caFile = caFile
            self.clientCertificate = clientCertificate
            self.clientKey = clientKey
            self.connectTimeout = connectTimeout
            self.totalTimeout = totalTimeout
            self.maxResponseBytes = maxResponseBytes
            self.insecureSkipVerify = insecureSkipVerify
            self.allowInsecureHTTP = allowInsecureHTTP
        }

        public var description: String {
            "CurlTransport(\(SyncURL.redacted(serverURL)), token: <redacted>, ca: \(caFile ?? "system"), client cert: \(clientCertificate ?? "none")\(insecureSkipVerify ? ", VERIFICATION OFF" : ""))"
        }
    }

    public enum SetupError: Error, Equatable, CustomStringConvertible {
        case initFailed
        case option(String, code: Int)
        /// The URL, already redacted.
        case invalidURL(String)
        /// An `http://` URL that is not allowed; the URL, already redacted.
        case insecureURL(String)

        public var description: String {
            switch self {
            case .initFailed: "libcurl could not create a handle"
            case .option(let name, let code): "libcurl refused \(name) (code \(code)): \(String(cString: curl_easy_strerror(CURLcode(UInt32(code)))))"
            case .invalidURL(let url): "server URL \(url) must start with https://"
            case .insecureURL(let url):
                "server URL \(url) is plain http://, which would send the device token in clear; use https:// (http:// is allowed only to a loopback address with allow_insecure_http, for a local test server)"
            }
        }
    }

    public let configuration: Configuration
    private let handle: UnsafeMutableRawPointer
    /// Owns the connection cache, so the TLS connection outlives each request; polled so a
    /// cancellation can interrupt a transfer.
    private let multi: UnsafeMutableRawPointer
    private let headers: UnsafeMutablePointer<curl_slist>
    private let url: String

    public init(configuration: Configuration) throws {
        CurlGlobal.initialize()
        let base = configuration.serverURL.hasSuffix("/") ? String(configuration.serverURL.dropLast()) : configuration.serverURL
        let scheme = base.prefix { $0 != ":" }.lowercased()
        switch scheme {
        case "https": break
        case "http":
            guard configuration.allowInsecureHTTP, SyncURL.isLoopback(base) else {
                throw SetupError.insecureURL(SyncURL.redacted(configuration.serverURL))
            }
        default: throw SetupError.invalidURL(SyncURL.redacted(configuration.serverURL))
        }
        guard let handle = curl_easy_init() else { throw SetupError.initFailed }
        guard let multi = curl_multi_init() else {
            curl_easy_cleanup(handle)
            throw SetupError.initFailed
        }
        self.configuration = configuration
        self.handle = handle
        self.multi = multi
        self.url = base + WireProtocol.batchPath
        var list: UnsafeMutablePointer<curl_slist>?
        for header in [
            "Content-Type: \(WireProtocol.contentType)",
            "Content-Encoding: gzip",
            "Accept: application/json",
            "Authorization: Bearer \(configuration.token.value)",
            // libcurl would otherwise wait a second for `100 Continue` on large bodies.
            "Expect:",
        ] {
            list = curl_slist_append(list, header)
        }
        self.headers = list!
        do {
            try configure()
        } catch {
            curl_slist_free_all(headers)
            curl_easy_cleanup(handle)
            curl_multi_cleanup(multi)
            throw error
        }
    }

    deinit {
        curl_easy_cleanup(handle)
        curl_multi_cleanup(multi)
        curl_slist_free_all(headers)
    }

    public var description: String { configuration.description }

    private func configure() throws {
        func check(_ name: String, _ code: CURLcode) throws {
            guard code == CURLE_OK else { throw SetupError.option(name, code: Int(code.rawValue)) }
        }
        let c = configuration
        try check("URL", reef_curl_setopt_string(handle, CURLOPT_URL, url))
        try check("POST", reef_curl_setopt_long(handle, CURLOPT_POST, 1))
        try check("HTTPHEADER", reef_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headers)))
        try check("NOSIGNAL", reef_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        // Only HTTPS (HTTP only where allowed above), and no redirects: a batch goes to the
        // configured server or nowhere.
        try check("PROTOCOLS_STR", reef_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, c.allowInsecureHTTP ? "https,http" : "https"))
        // Probes the kept-alive connection between batches, so a dead one is noticed and replaced.
        try check("TCP_KEEPALIVE", reef_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1))
        try check("SSL_VERIFYPEER", reef_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, c.insecureSkipVerify ? 0 : 1))
        try check("SSL_VERIFYHOST", reef_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, c.insecureSkipVerify ? 0 : 2))
        if let ca = c.caFile { try check("CAINFO", reef_curl_setopt_string(handle, CURLOPT_CAINFO, ca)) }
        if let cert = c.clientCertificate { try check("SSLCERT", reef_curl_setopt_string(handle, CURLOPT_SSLCERT, cert)) }
        if let key = c.clientKey { try check("SSLKEY", reef_curl_setopt_string(handle, CURLOPT_SSLKEY, key)) }
        try check("CONNECTTIMEOUT_MS", reef_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(c.connectTimeout.saturatingMillis)))
        try check("TIMEOUT_MS", reef_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(c.totalTimeout.saturatingMillis)))
        try check("WRITEFUNCTION and HEADERFUNCTION", CurlExchange.installCallbacks(on: handle))
    }

    public func post(batch body: [UInt8]) async throws(TransportError) -> TransportResponse {
        let cancelled = CancelFlag()
        let multi = UncheckedMulti(pointer: self.multi)
        let result: Result<TransportResponse, TransportError> = await withTaskCancellationHandler {
            await BlockingIO.network.run { self.perform(body, cancelled: cancelled) }
        } onCancel: {
            cancelled.set()
            // Wakes the poll in progress, or the next one: `perform` then sees the flag.
            _ = curl_multi_wakeup(multi.pointer)
        }
        return try result.get()
    }

    /// One request/response on the reused handle. Runs on `BlockingIO.network` only.
    private func perform(_ body: [UInt8], cancelled: CancelFlag) -> Result<TransportResponse, TransportError> {
        let exchange = CurlExchange(limit: configuration.maxResponseBytes)
        let context = Unmanaged.passRetained(exchange)
        defer { context.release() }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let outcome: Result<CURLcode, TransportError> = body.withUnsafeBytes { bytes in
            errorBuffer.withUnsafeMutableBufferPointer { errors in
                _ = reef_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errors.baseAddress))
                _ = reef_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque())
                _ = reef_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context.toOpaque())
                _ = reef_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                // POSTFIELDS does not copy: `bytes` outlives the transfer below.
                _ = reef_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                defer {
                    _ = reef_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, nil)
                    _ = reef_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, nil)
                }
                return transfer(cancelled: cancelled)
            }
        }
        let code: CURLcode
        switch outcome {
        case .failure(let error): return .failure(error)
        case .success(let result): code = result
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            if exchange.overflowed {
                return .failure(TransportError(.responseTooLarge, "answer exceeded \(configuration.maxResponseBytes) bytes"))
            }
            return .failure(TransportError(Self.kind(of: code), "\(message) (curl \(code.rawValue))"))
        }
        var status = 0
        _ = reef_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(TransportResponse(status: status, body: exchange.body, retryAfter: exchange.retryAfter))
    }

    /// Drives the easy handle through the multi handle until it is done or `cancelled` is
    /// set; a cancelled transfer is removed mid-flight, which closes its connection.
    private func transfer(cancelled: CancelFlag) -> Result<CURLcode, TransportError> {
        CurlMultiTransfer.run(handle, in: multi, cancelled: cancelled).mapError { failure in
            switch failure {
            case .cancelled: TransportError(.cancelled, "request abandoned: the sync task was cancelled")
            case .multi(let text): TransportError(.network, text)
            }
        }
    }

    static func kind(of code: CURLcode) -> TransportError.Kind {
        switch code {
        case CURLE_OPERATION_TIMEDOUT: .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ENGINE_INITFAILED,
             CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_SHUTDOWN_FAILED:
            .tls
        default: .network
        }
    }
}
