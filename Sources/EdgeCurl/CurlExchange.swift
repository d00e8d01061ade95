import CCurl
import Foundation
import Synchronization

/// What one request received; the C callbacks reach it through an opaque pointer.
///
/// Shared by Sync's `CurlTransport` and Notify's `CurlNotifyTransport`: one reading of
/// libcurl's body and header callbacks.
public final class CurlExchange {
    /// What to do with an answer longer than `limit`.
    public enum Overflow: Sendable {
        /// Abort the transfer (CURLE_WRITE_ERROR) and set `overflowed`: Sync's acks are
        /// small, a large answer is a wrong server.
        case abort
        /// Keep the first `limit` bytes, drop the rest and let the transfer finish: a
        /// notification service's answer is only read for its words (Telegram echoes the
        /// whole message back).
        case truncate
    }

    public let limit: Int
    public let overflow: Overflow
    public private(set) var body: [UInt8] = []
    public private(set) var retryAfter: String?
    public private(set) var overflowed = false

    public init(limit: Int, overflow: Overflow = .abort) {
        self.limit = limit
        self.overflow = overflow
    }

    public func receiveBody(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let data else { return 0 }
        let room = max(0, limit - body.count)
        if count > room {
            overflowed = true
            if overflow == .abort { return 0 } // libcurl aborts the transfer with CURLE_WRITE_ERROR
        }
        data.withMemoryRebound(to: UInt8.self, capacity: count) {
            body.append(contentsOf: UnsafeBufferPointer(start: $0, count: min(count, room)))
        }
        return count
    }

    public func receiveHeader(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let data else { return 0 }
        let line = data.withMemoryRebound(to: UInt8.self, capacity: count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
        }
        if line.hasPrefix("HTTP/") {
            // A new status line (after a 100 Continue or a redirect): headers start over.
            retryAfter = nil
        } else if let colon = line.firstIndex(of: ":"),
                  line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "retry-after" {
            retryAfter = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return count
    }

    /// Installs this exchange's callbacks on `handle`; the caller passes
    /// `Unmanaged.passRetained(exchange).toOpaque()` as WRITEDATA and HEADERDATA.
    public static func installCallbacks(on handle: UnsafeMutableRawPointer) -> CURLcode {
        let write = reef_curl_setopt_write_function(handle, { data, size, count, context in
            Unmanaged<CurlExchange>.fromOpaque(context!).takeUnretainedValue().receiveBody(data, size * count)
        })
        guard write == CURLE_OK else { return write }
        return reef_curl_setopt_header_function(handle, { data, size, count, context in
            Unmanaged<CurlExchange>.fromOpaque(context!).takeUnretainedValue().receiveHeader(data, size * count)
        })
    }
}

/// libcurl's process-wide setup, done once whichever transport starts first (Sync's or
/// Notify's): `curl_global_init` must not run twice concurrently.
public enum CurlGlobal {
    private static let initialized: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()
    public static func initialize() { _ = initialized }
}

/// Set from the cancelling thread, read by the transfer loop on a `BlockingIO` lane.
public final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func set() { flag.store(true, ordering: .sequentiallyConsistent) }
    public var isSet: Bool { flag.load(ordering: .sequentiallyConsistent) }
}

/// The multi handle's pointer, handed to the cancellation handler for `curl_multi_wakeup`.
public struct UncheckedMulti: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public init(pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}

/// Drives one easy handle through a multi handle until it is done or cancelled: the transfer
/// waits in `curl_multi_poll`, which `curl_multi_wakeup` interrupts from the cancelling
/// thread, so stopping never waits for a timeout.
public enum CurlMultiTransfer {
    public enum Failure: Error, Equatable {
        /// `cancelled` was set; the transfer was removed mid-flight, closing its connection.
        case cancelled
        /// The multi interface itself failed; the text is libcurl's.
        case multi(String)
    }

    /// The longest one `curl_multi_poll` waits; libcurl returns earlier for its own timers
    /// (connect and total timeouts) and a cancellation wakes it at once, so this is only a
    /// backstop.
    public static let pollMillis: Int32 = 10_000

    /// The easy handle's result code. Blocks: call it on a `BlockingIO` lane only.
    /// - Parameter abandon: runs on a cancelled transfer's handle just before it is removed.
    ///   Removing a transfer mid-flight lets libcurl end it the protocol's way, which for
    ///   SMTP is a QUIT whose answer it waits for (a hung server's: until the timeout); a
    ///   single-use handle shortens its timeouts here so that the removal returns at once.
    public static func run(_ easy: UnsafeMutableRawPointer, in multi: UnsafeMutableRawPointer, cancelled: CancelFlag,
                           abandon: (UnsafeMutableRawPointer) -> Void = { _ in }) -> Result<CURLcode, Failure> {
        let added = curl_multi_add_handle(multi, easy)
        guard added == CURLM_OK else { return .failure(failure(added)) }
        defer { _ = curl_multi_remove_handle(multi, easy) }
        var running: Int32 = 1
        while true {
            if cancelled.isSet {
                abandon(easy)
                return .failure(.cancelled)
            }
            let performed = curl_multi_perform(multi, &running)
            guard performed == CURLM_OK else { return .failure(failure(performed)) }
            if running == 0 { break }
            let polled = curl_multi_poll(multi, nil, 0, pollMillis, nil)
            guard polled == CURLM_OK else { return .failure(failure(polled)) }
        }
        var queued: Int32 = 0
        var code = CURLE_OK
        while let message = curl_multi_info_read(multi, &queued) {
            if message.pointee.msg == CURLMSG_DONE, message.pointee.easy_handle == easy {
                code = message.pointee.data.result
            }
        }
        return .success(code)
    }

    private static func failure(_ code: CURLMcode) -> Failure {
        .multi("libcurl multi interface: \(String(cString: curl_multi_strerror(code))) (code \(code.rawValue))")
    }
}
