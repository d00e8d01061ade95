import Foundation
import Synchronization

/// What one request received; the C callbacks reach it through an opaque pointer.
final class CurlExchange {
    let limit: Int
    var body: [UInt8] = []
    var retryAfter: String?
    var overflowed = false

    init(limit: Int) { self.limit = limit }

    func receiveBody(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let data, body.count + count <= limit else {
            overflowed = true
            return 0 // libcurl aborts the transfer with CURLE_WRITE_ERROR
        }
        data.withMemoryRebound(to: UInt8.self, capacity: count) { body.append(contentsOf: UnsafeBufferPointer(start: $0, count: count)) }
        return count
    }

    func receiveHeader(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
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
}

/// Set from the cancelling thread, read by the transfer loop on `BlockingIO.network`.
final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { flag.load(ordering: .sequentiallyConsistent) }
}

/// The multi handle's pointer, handed to the cancellation handler for `curl_multi_wakeup`.
struct UncheckedMulti: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
}
