import EdgeCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One process at a time on a bus: the daemon's sensor reads and `edge-agent calibrate` or
/// `capture` each hold an advisory lock (flock) on `<directory>/edge-agent.<bus>.lock` for a
/// whole exchange (an EZO command and its reply), so their commands never interleave.
///
/// The lock is polled without blocking a thread. The directory is `$EDGE_AGENT_LOCK_DIR`,
/// else `/run/lock` (world-writable on Debian, emptied at boot). A process that can neither
/// open nor create the file (the daemon under `ProtectSystem=strict` before any command
/// created it) runs unlocked: no other process holds a lock on a file that does not exist.
public struct BusLock: Sendable {
    public static var directory: String { ProcessInfo.processInfo.environment["EDGE_AGENT_LOCK_DIR"] ?? "/run/lock" }

    public let path: String

    /// `bus`: the bus's id in the profile (`i2c`), a plain name.
    public init(bus: String, directory: String = BusLock.directory) {
        path = directory + "/edge-agent." + (DeviceNames.isPlainName(bus) ? bus : "bus") + ".lock"
    }

    /// Runs `body` holding the lock; waits (polling every 10 ms) at most `timeout` for it.
    public func holding<T>(clock: any DeviceClock, timeout: Duration = .seconds(30),
                           _ body: () async throws -> T) async throws -> T {
        var fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0, errno == ENOENT {
            fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o666)
            if fd >= 0 { fchmod(fd, 0o666) } // whoever creates it, the daemon's user and a person at the device both lock it
        }
        guard fd >= 0 else {
            // No lock file and no way to create one (the daemon's read-only /run under
            // ProtectSystem=strict): nobody holds a lock on a file that does not exist.
            if errno == ENOENT || errno == EROFS || errno == EACCES { return try await body() }
            throw BusError.io("lock \(path)", errno: errno)
        }
        defer { close(fd) }
        let start = clock.now()
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw BusError.io("lock \(path)", errno: errno) }
            guard clock.elapsed(since: start) < timeout else {
                throw BusError.timeout("\(path): another edge-agent process held the bus for \(timeout)")
            }
            try await clock.sleep(for: .milliseconds(10))
        }
        defer { flock(fd, LOCK_UN) }
        return try await body()
    }
}

/// A sensor the daemon leaves alone while `edge-agent calibrate` works on it: a marker file
/// `<directory>/edge-agent.paused.<sensor>` holding the calibrating process's pid. Readings
/// taken in a calibration buffer must never be stored as tank readings; a marker whose process
/// is gone (a killed session) no longer pauses anything.
public struct SensorPause: Sendable {
    public let path: String

    public init(sensor: String, directory: String = BusLock.directory) {
        path = directory + "/edge-agent.paused." + (DeviceNames.isPlainName(sensor) ? sensor : "sensor")
    }

    /// True while a live process holds the marker.
    public var isPaused: Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// Marks the sensor paused by this process until `resume()`.
    public func pause() throws {
        try "\(getpid())\n".write(toFile: path, atomically: true, encoding: .utf8)
    }

    public func resume() { try? FileManager.default.removeItem(atPath: path) }
}

/// A sensor read under its bus's lock, and not at all while it is paused for calibration.
public struct SharedBusSensor: Sensor {
    public let sensor: any Sensor
    /// nil on a simulated bus: each process has its own simulation, there is nothing to share.
    public let lock: BusLock?
    public let pause: SensorPause
    public let clock: any DeviceClock

    public init(sensor: any Sensor, lock: BusLock?, pause: SensorPause, clock: any DeviceClock) {
        self.sensor = sensor
        self.lock = lock
        self.pause = pause
        self.clock = clock
    }

    public var channels: [Channel] { sensor.channels }

    public func read() async throws -> [Measurement] {
        if pause.isPaused { throw SensorError.noData("paused while 'edge-agent calibrate' works on this sensor") }
        guard let lock else { return try await sensor.read() }
        return try await lock.holding(clock: clock) { try await sensor.read() }
    }
}
