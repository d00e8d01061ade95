#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The process's resident memory and CPU time, from `/proc/self`.
struct ProcessSample: Sendable, Hashable {
    var rssBytes: Int64
    /// User plus system time, in clock ticks.
    var cpuTicks: Int64
    var bootNanos: UInt64

    /// Nil where `/proc` is not available (not Linux).
    static func read(at bootNanos: UInt64) -> ProcessSample? {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8) else { return nil }
        return parse(statm: statm, stat: stat, pageSize: Int64(sysconf(Int32(_SC_PAGESIZE))), bootNanos: bootNanos)
    }

    /// `statm`'s second field is resident pages. In `stat`, the command name may hold spaces
    /// and parentheses, so fields are counted after its last `)`: utime and stime are the
    /// 14th and 15th fields of the line, the 12th and 13th after the name.
    static func parse(statm: String, stat: String, pageSize: Int64, bootNanos: UInt64) -> ProcessSample? {
        let pages = statm.split(separator: " ")
        guard pages.count >= 2, let resident = Int64(pages[1]),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count >= 13, let user = Int64(fields[11]), let system = Int64(fields[12]) else { return nil }
        return ProcessSample(rssBytes: resident * pageSize, cpuTicks: user + system, bootNanos: bootNanos)
    }

    /// Percent of one core used between `earlier` and this sample.
    func cpuPercent(since earlier: ProcessSample, ticksPerSecond: Int64) -> Double {
        guard bootNanos > earlier.bootNanos, ticksPerSecond > 0 else { return 0 }
        let seconds = Double(bootNanos - earlier.bootNanos) / 1e9
        return Double(cpuTicks - earlier.cpuTicks) / Double(ticksPerSecond) / seconds * 100
    }

    static let ticksPerSecond = Int64(sysconf(Int32(_SC_CLK_TCK)))
}
