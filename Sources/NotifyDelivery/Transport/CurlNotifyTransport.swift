import CCurl
import EdgeCore
import EdgeCurl
import Foundation

/// The device's `NotifyTransport`: HTTPS requests and SMTP submissions through libcurl.
///
/// What it guarantees, whatever the payload says:
/// - TLS always, verified always: `https://` only for HTTP (no redirects followed), and
///   for e-mail `smtps://` or `smtp://` with STARTTLS required (CURLUSESSL_ALL), so a server
///   that does not offer STARTTLS gets nothing, not the message in clear. `target.caFile`
///   replaces the system store when set.
/// - Bounded: a connect timeout and a total timeout per attempt; the answer's first
///   `maxAnswerBytes` are kept for its words, the rest discarded.
/// - Off the cooperative pool: each transfer runs on `BlockingIO.notify`, one easy and one
///   multi handle per send, so targets send side by side and a slow mail server delays
///   neither the phone nor Sync.
/// - Prompt cancellation: cancelling the sending task wakes `curl_multi_poll` and abandons
///   the transfer (the answer is then `.networkError`, which a stopping pipeline discards).
///
/// Every failure is an outcome (`DeliveryOutcome`); `DeliveryState` decides what it means.
public struct CurlNotifyTransport: NotifyTransport {
    public struct Configuration: Sendable, Hashable {
        public var connectTimeout: Duration
        /// The whole attempt: connect, TLS, upload, answer.
        public var totalTimeout: Duration
        /// The answer's words kept for status and dead letters.
        public var maxAnswerBytes: Int

        public init(connectTimeout: Duration = .seconds(10), totalTimeout: Duration = .seconds(30), maxAnswerBytes: Int = 4096) {
            self.connectTimeout = connectTimeout
            self.totalTimeout = totalTimeout
            self.maxAnswerBytes = maxAnswerBytes
        }
    }

    public let configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public func send(_ payload: NotifyPayload, to target: NotifyTarget, credential: String?) async -> NotifyAnswer {
        CurlGlobal.initialize()
        guard let handles = CurlHandles() else {
            return NotifyAnswer(outcome: .networkError("libcurl could not create a handle"), text: "")
        }
        let cancelled = CancelFlag()
        let configuration = configuration
        return await withTaskCancellationHandler {
            await BlockingIO.notify.run {
                let attempt = CurlAttempt(handles: handles, configuration: configuration, caFile: target.caFile, cancelled: cancelled)
                switch payload {
                case .http(let request): return attempt.post(request)
                case .email(let message): return attempt.mail(message, url: target.url, password: credential)
                }
            }
        } onCancel: {
            cancelled.set()
            // Wakes the poll in progress, or the next one: the transfer loop then sees the flag.
            handles.wake()
        }
    }
}

/// One easy handle in its own multi handle, freed when the last of the transfer and the
/// cancellation handler lets go (so `curl_multi_wakeup` never reaches a freed handle).
private final class CurlHandles: @unchecked Sendable {
    // @unchecked: the handles are used by one transfer on one `BlockingIO.notify` thread;
    // from other threads only `curl_multi_wakeup`, which libcurl documents as thread-safe.
    let easy: UnsafeMutableRawPointer
    let multi: UnsafeMutableRawPointer

    init?() {
        guard let easy = curl_easy_init() else { return nil }
        guard let multi = curl_multi_init() else {
            curl_easy_cleanup(easy)
            return nil
        }
        self.easy = easy
        self.multi = multi
    }

    func wake() { _ = curl_multi_wakeup(multi) }

    deinit {
        curl_easy_cleanup(easy)
        curl_multi_cleanup(multi)
    }
}

/// One attempt on fresh handles. Runs on `BlockingIO.notify` only.
private struct CurlAttempt {
    let handles: CurlHandles
    let configuration: CurlNotifyTransport.Configuration
    let caFile: String?
    let cancelled: CancelFlag
    private var easy: UnsafeMutableRawPointer { handles.easy }

    init(handles: CurlHandles, configuration: CurlNotifyTransport.Configuration, caFile: String?, cancelled: CancelFlag) {
        self.handles = handles
        self.configuration = configuration
        self.caFile = caFile
        self.cancelled = cancelled
    }

    /// The request's method, headers and body exactly as built; 2xx is accepted, any other
    /// status is the service's answer with its words and `Retry-After`.
    func post(_ request: NotifyRequest) -> NotifyAnswer {
        var headers: UnsafeMutablePointer<curl_slist>?
        // libcurl would otherwise wait a second for `100 Continue` before a large body.
        for line in request.headers.map(\.description) + ["Expect:"] { headers = curl_slist_append(headers, line) }
        defer { curl_slist_free_all(headers) }
        let exchange = CurlExchange(limit: configuration.maxAnswerBytes, overflow: .truncate)
        let context = Unmanaged.passRetained(exchange)
        defer { context.release() }
        // An empty body still needs a pointer, or libcurl would read one from a callback.
        let storage = request.body.isEmpty ? [0] : request.body
        let result: Result<Void, Failure> = storage.withUnsafeBytes { body in
            let set = setCommon(url: request.url, protocols: "https")
                && ok(reef_curl_setopt_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headers)))
                && ok(CurlExchange.installCallbacks(on: easy))
                && ok(reef_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, context.toOpaque()))
                && ok(reef_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, context.toOpaque()))
                && ok(reef_curl_setopt_long(easy, CURLOPT_POST, 1))
                && (request.method == "POST" || ok(reef_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method)))
                && ok(reef_curl_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
                // POSTFIELDS does not copy: `body` outlives the transfer below.
                && ok(reef_curl_setopt_pointer(easy, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: body.baseAddress)))
            guard set else { return .failure(.setup) }
            return transfer()
        }
        let text = String(decoding: exchange.body, as: UTF8.self)
        if case .failure(let failure) = result { return answer(for: failure, text: text) }
        var status = 0
        _ = reef_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        if (200...299).contains(status) { return NotifyAnswer(outcome: .accepted, text: text) }
        return NotifyAnswer(outcome: .http(status: status, reason: text.trimmingCharacters(in: .whitespacesAndNewlines),
                                          retryAfter: exchange.retryAfter),
                            text: text)
    }

    /// MAIL FROM `message.from`, RCPT TO `message.to`, DATA `message.rendered`; AUTH as
    /// `message.from` with `password` when there is one.
    func mail(_ message: EmailMessage, url: String, password: String?) -> NotifyAnswer {
        var recipients: UnsafeMutablePointer<curl_slist>?
        recipients = curl_slist_append(recipients, "<\(message.to)>")
        defer { curl_slist_free_all(recipients) }
        let upload = CurlUpload(Array(message.rendered.utf8))
        let replies = SMTPReplies()
        let uploadContext = Unmanaged.passRetained(upload), repliesContext = Unmanaged.passRetained(replies)
        defer { uploadContext.release(); repliesContext.release() }
        var set = setCommon(url: url, protocols: "smtp,smtps")
            && ok(reef_curl_setopt_long(easy, CURLOPT_USE_SSL, reef_curl_usessl_all()))
            && ok(reef_curl_setopt_string(easy, CURLOPT_MAIL_FROM, "<\(message.from)>"))
            && ok(reef_curl_setopt_pointer(easy, CURLOPT_MAIL_RCPT, UnsafeMutableRawPointer(recipients)))
            && ok(reef_curl_setopt_long(easy, CURLOPT_UPLOAD, 1))
            && ok(reef_curl_setopt_off_t(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(upload.bytes.count)))
            && ok(reef_curl_setopt_read_function(easy, { buffer, size, count, context in
                Unmanaged<CurlUpload>.fromOpaque(context!).takeUnretainedValue().read(into: buffer, size * count)
            }))
            && ok(reef_curl_setopt_pointer(easy, CURLOPT_READDATA, uploadContext.toOpaque()))
            // The server's replies, for the words of a refusal; libcurl reports only the code.
            && ok(reef_curl_setopt_debug_function(easy, { _, type, data, count, context in
                if type == CURLINFO_HEADER_IN { Unmanaged<SMTPReplies>.fromOpaque(context!).takeUnretainedValue().receive(data, count) }
                return 0
            }))
            && ok(reef_curl_setopt_pointer(easy, CURLOPT_DEBUGDATA, repliesContext.toOpaque()))
            && ok(reef_curl_setopt_long(easy, CURLOPT_VERBOSE, 1))
        if let password {
            set = set && ok(reef_curl_setopt_string(easy, CURLOPT_USERNAME, message.from))
                && ok(reef_curl_setopt_string(easy, CURLOPT_PASSWORD, password))
        }
        guard set else { return answer(for: .setup, text: "") }
        let result = transfer()
        var code = 0
        _ = reef_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        let last = replies.last
        switch result {
        case .success:
            return NotifyAnswer(outcome: .accepted, text: last)
        case .failure(.curl(_, let detail)) where code >= 400:
            // The server refused (AUTH, MAIL, RCPT or DATA): its reply decides, 4yz or 5yz.
            let reason = last.isEmpty ? detail : last
            return NotifyAnswer(outcome: .smtp(code: code, reason: reason), text: reason)
        case .failure(.curl(CURLE_USE_SSL_FAILED, let detail)):
            let reason = "\(detail): the server does not offer STARTTLS, and Notify never sends mail in plain text; use its TLS port (smtps://host:465 or a STARTTLS port)"
            return NotifyAnswer(outcome: .networkError(reason), text: reason)
        case .failure(let failure):
            return answer(for: failure, text: last)
        }
    }

    // MARK: - Shared

    enum Failure: Error {
        case setup
        case cancelled
        case curl(CURLcode, String)
    }

    private func ok(_ code: CURLcode) -> Bool { code == CURLE_OK }

    /// What every transfer sets: the URL and the only protocols allowed, verification on,
    /// the CA, the timeouts, no signals (threads), no redirects (the default, kept).
    ///
    /// FORBID_REUSE closes the connection when the transfer ends, on this lane: the handles
    /// are used once, and a connection left in the multi handle's cache would be closed (for
    /// SMTP with a QUIT that waits for the answer) by `curl_multi_cleanup`, wherever the
    /// last reference to the handles goes — possibly a thread of the cooperative pool.
    private func setCommon(url: String, protocols: String) -> Bool {
        ok(reef_curl_setopt_string(easy, CURLOPT_URL, url))
            && ok(reef_curl_setopt_long(easy, CURLOPT_FORBID_REUSE, 1))
            && ok(reef_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, protocols))
            && ok(reef_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
            && ok(reef_curl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1))
            && ok(reef_curl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2))
            && (caFile.map { ok(reef_curl_setopt_string(easy, CURLOPT_CAINFO, $0)) } ?? true)
            && ok(reef_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout.saturatingMillis)))
            && ok(reef_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(configuration.totalTimeout.saturatingMillis)))
            && ok(reef_curl_setopt_string(easy, CURLOPT_USERAGENT, "reef-edge"))
    }

    /// Runs the transfer with libcurl's error buffer installed.
    private func transfer() -> Result<Void, Failure> {
        var errors = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let result = errors.withUnsafeMutableBufferPointer { buffer in
            _ = reef_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(buffer.baseAddress))
            defer { _ = reef_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, nil) }
            return CurlMultiTransfer.run(easy, in: handles.multi, cancelled: cancelled) { easy in
                // These handles are used once: 1 ms timeouts end SMTP's goodbye to a hung
                // server at once, so stopping never waits for the attempt's timeout.
                _ = reef_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, 1)
                _ = reef_curl_setopt_long(easy, CURLOPT_SERVER_RESPONSE_TIMEOUT, 1)
            }
        }
        switch result {
        case .failure(.cancelled): return .failure(.cancelled)
        case .failure(.multi(let text)): return .failure(.curl(CURLE_FAILED_INIT, text))
        case .success(CURLE_OK): return .success(())
        case .success(let code):
            let detail = String(decoding: errors.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return .failure(.curl(code, detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail))
        }
    }

    private func answer(for failure: Failure, text: String) -> NotifyAnswer {
        switch failure {
        case .setup:
            return NotifyAnswer(outcome: .networkError("libcurl refused an option; is libcurl built with TLS and SMTP?"), text: text)
        case .cancelled:
            return NotifyAnswer(outcome: .networkError("attempt abandoned: the notify task was cancelled"), text: text)
        case .curl(CURLE_OPERATION_TIMEDOUT, _):
            return NotifyAnswer(outcome: .timeout, text: text)
        case .curl(let code, let detail):
            return NotifyAnswer(outcome: .networkError("\(detail) (curl \(code.rawValue))"), text: text)
        }
    }
}

/// The bytes libcurl uploads after DATA; READFUNCTION reaches it through an opaque pointer.
private final class CurlUpload {
    let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int) -> Int {
        guard let buffer else { return 0 }
        let count = min(capacity, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBufferPointer { source in
            UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }
}

/// The SMTP server's reply lines as libcurl's debug callback sees them (CURLINFO_HEADER_IN
/// only: what the client sent, AUTH included, is never read). `last` is the reply that
/// decided the attempt — the DATA answer or a refusal's words — bounded; QUIT's `221` is
/// skipped, it says nothing about the message.
private final class SMTPReplies {
    private(set) var last = ""

    func receive(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) {
        guard let data else { return }
        let line = data.withMemoryRebound(to: UInt8.self, capacity: count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: min(count, 512)), as: UTF8.self)
        }.trimmingCharacters(in: .whitespacesAndNewlines)
        if !line.hasPrefix("221") { last = line }
    }
}
