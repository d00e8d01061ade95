import CZlib
import Foundation

/// gzip framing (RFC 1952) over zlib, for batch bodies in both directions.
///
/// Decompression takes a hard output limit: a 1 MB body can inflate to gigabytes, and
/// neither a Pi nor the server should find that out by running out of memory.
public enum Gzip {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case corrupt(String)
        case tooLarge(limit: Int)

        public var description: String {
            switch self {
            case .corrupt(let reason): "body is not valid gzip: \(reason)"
            case .tooLarge(let limit): "body inflates beyond \(limit) bytes"
            }
        }
    }

    /// windowBits 15 + 16 selects the gzip wrapper instead of raw zlib.
    private static let gzipWindowBits: Int32 = 15 + 16

    public static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        let initStatus = deflateInit2_(&stream, level, Z_DEFLATED, gzipWindowBits, 8, Z_DEFAULT_STRATEGY,
                                       zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(initStatus == Z_OK, "deflateInit2 failed: \(initStatus)")
        defer { deflateEnd(&stream) }

        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        let produced: Int = input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                let status = deflate(&stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "deflate with a deflateBound-sized buffer must finish: \(status)")
                return outBuf.count - Int(stream.avail_out)
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// One gzip member, nothing after it: bytes after the member's trailer are refused
    /// rather than silently ignored (a second member is never something a device sends).
    public static func decompress(_ input: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        guard input.count <= Int(uInt.max) else { throw .tooLarge(limit: limit) }
        var stream = z_stream()
        guard inflateInit2_(&stream, gzipWindowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt("inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        output.reserveCapacity(min(limit, max(4096, input.count * 4)))
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var status: Int32 = Z_OK
        var failure: Failure?
        input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = uInt(inBuf.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return outBuf.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END else {
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                    failure = .corrupt(status == Z_BUF_ERROR ? "truncated" : message)
                    return
                }
                if output.count + produced > limit {
                    failure = .tooLarge(limit: limit)
                    return
                }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_OK && stream.avail_in == 0 && produced == 0 {
                    failure = .corrupt("truncated")
                    return
                }
            } while status != Z_STREAM_END
            if stream.avail_in > 0 {
                failure = .corrupt("\(stream.avail_in) bytes of trailing data after the gzip member")
            }
        }
        if let failure { throw failure }
        return output
    }
}
