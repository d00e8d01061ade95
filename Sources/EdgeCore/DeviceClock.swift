#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization
#if os(Linux)
import CTimex
#endif

/// One reading of the device's clocks.
///
/// A Pi has no real-time clock: it boots with whatever time the fake-hwclock saved, and
/// only later does NTP correct it. So every stamp carries both the wall clock (which may
/// be wrong) and the boot-relative monotonic clock (which never jumps), plus whether the
/// kernel considered the wall clock synchronised at that moment. A stamp taken before
/// synchronisation can be corrected afterwards from `bootNanos` alone.
public struct DeviceTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since the Unix epoch, from `CLOCK_REALTIME`.
    public var unixMillis: Int64
    /// Nanoseconds since boot, from `CLOCK_BOOTTIME` (keeps counting through suspend).
    public var bootNanos: UInt64
    /// Whether the kernel reported the wall clock as synchronised (adjtimex).
    public var synchronized: Bool

    public init(unixMillis: Int64, bootNanos: UInt64, synchronized: Bool) {
        self.unixMillis = unixMillis
        self.bootNanos = bootNanos
        self.synchronized = synchronized
    }

    /// Ordered by the monotonic clock: the wall clock can go backwards.
    public static func < (lhs: DeviceTime, rhs: DeviceTime) -> Bool { lhs.bootNanos < rhs.bootNanos }

    public var description: String {
        "\(unixMillis)ms (boot+\(bootNanos / 1_000_000)ms\(synchronized ? "" : ", unsynced"))"
    }
}

/// The clock every stage reads and sleeps on. Injected so that tests are exact.
public protocol DeviceClock: Sendable {
    /// The current time on all of the device's clocks.
    func now() -> DeviceTime
    /// Suspends the caller for `duration` of this clock's time.
    func sleep(for duration: Duration) async throws
    /// Identifies this boot: `bootNanos` values are comparable only within one boot.
    var bootID: String { get }
}

extension DeviceClock {
    /// Nanoseconds elapsed on the monotonic clock since `start`.
    public func elapsed(since start: DeviceTime) -> Duration {
        let now = now().bootNanos
        return .nanoseconds(Int64(now >= start.bootNanos ? now - start.bootNanos : 0))
    }
}

/// The Linux clocks: `CLOCK_REALTIME`, `CLOCK_BOOTTIME`, `adjtimex` and the kernel's boot id.
public struct SystemDeviceClock: DeviceClock {
    public let bootID: String

    public init() {
        let id = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        self.bootID = id?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown-boot"
    }

    public func now() -> DeviceTime {
        var real = timespec()
        var boot = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        #if os(Linux)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        #else
        clock_gettime(CLOCK_MONOTONIC, &boot)
        #endif
        let bootNanos = UInt64(boot.tv_sec) * 1_000_000_000 + UInt64(boot.tv_nsec)
        return DeviceTime(
            unixMillis: Int64(real.tv_sec) * 1000 + Int64(real.tv_nsec) / 1_000_000,
            bootNanos: bootNanos,
            synchronized: Self.synchronized(at: bootNanos)
        )
    }

    /// The kernel's answer, asked at most once a second: `now()` runs several times per
    /// reading, and the syscall was 5 % of the idle agent's CPU. NTP settles over minutes, so
    /// a second's lag in noticing costs nothing.
    private static let lastCheck = Mutex<(bootNanos: UInt64, synchronized: Bool)?>(nil)

    static func synchronized(at bootNanos: UInt64) -> Bool {
        lastCheck.withLock { last in
            if let last, bootNanos >= last.bootNanos, bootNanos - last.bootNanos < 1_000_000_000 {
                return last.synchronized
            }
            let synchronized = kernelClockSynchronized()
            last = (bootNanos, synchronized)
            return synchronized
        }
    }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }

    /// `adjtimex` returns `TIME_ERROR` while the kernel's clock is unsynchronised
    /// (no NTP daemon has disciplined it since boot). Read-only: `modes` is 0.
    static func kernelClockSynchronized() -> Bool {
        #if os(Linux)
        return reef_clock_synchronized() == 1
        #else
        return true
        #endif
    }
}
